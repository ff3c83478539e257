import { parseArgs, type ParseArgsConfig } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Described = { description: string; valueHint?: string };

export type CliSpec<O extends Options> = {
  /** How it is run, e.g. `bun run replay-dead-letters`. */
  command: string;
  description: string;
  options?: O & Record<keyof O, Described>;
  /** Positional arguments, e.g. `[id ...]`; none are accepted without it. */
  positionals?: { usage: string; description: string };
};

function usage(spec: CliSpec<Options>): string {
  const options = Object.entries(spec.options ?? {}).map(([name, o]) => {
    const d = o as Options[string] & Described;
    const flag = `--${name}${d.type === "string" ? ` <${d.valueHint ?? "value"}>` : ""}`;
    const fallback = d.default !== undefined && d.default !== false ? ` (default: ${d.default})` : "";
    return `  ${flag.padEnd(30)} ${d.description}${fallback}`;
  });
  return [
    `Usage: ${spec.command}${spec.options && Object.keys(spec.options).length ? " [options]" : ""}${spec.positionals ? ` ${spec.positionals.usage}` : ""}`,
    "",
    spec.description,
    ...(spec.positionals ? ["", `  ${spec.positionals.usage.padEnd(30)} ${spec.positionals.description}`] : []),
    "",
    "Options:",
    ...options,
    `  ${"--help".padEnd(30)} show this and do nothing else`,
    "",
  ].join("\n");
}

/**
 * Reads a command's arguments. `--help` prints the usage and exits 0 without doing anything
 * else; an unknown option or an unexpected argument prints what is wrong and exits 2.
 */
export function parseCli<O extends Options>(spec: CliSpec<O>, argv = process.argv.slice(2)) {
  const config = { args: argv, options: { ...spec.options, help: { type: "boolean" as const, short: "h" } }, allowPositionals: Boolean(spec.positionals), strict: true };
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (err) {
    process.stderr.write(`${spec.command}: ${(err as Error).message}\n\n${usage(spec as CliSpec<Options>)}`);
    process.exit(2);
  }
  if (parsed.values.help) {
    process.stdout.write(usage(spec as CliSpec<Options>));
    process.exit(0);
  }
  return parsed as unknown as ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>;
}
