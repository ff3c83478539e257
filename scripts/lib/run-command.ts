import { runMain, type ArgsDef, type CommandDef } from "citty";
import { exitOnFatal } from "../../src/process/fatal";

/** The --flags of argv that the command does not define (citty itself lets them through). */
function unknownFlags(args: ArgsDef, argv: string[]): string[] {
  const known = new Set(["help", "h", "version"]);
  for (const [name, def] of Object.entries(args)) {
    known.add(name);
    for (const alias of [("alias" in def ? def.alias : undefined) ?? []].flat()) known.add(alias);
    if (def.type === "boolean") known.add(`no-${name}`);
  }
  return argv
    .filter((a) => a.startsWith("-") && a !== "-" && a !== "--")
    .map((a) => a.replace(/^--?/, "").split("=")[0]!)
    .filter((name) => !known.has(name));
}

/**
 * Runs a citty command: --help prints its usage and does nothing else, an unknown flag is
 * refused, and an error ends it with one sentence (stack with LOG_LEVEL=debug).
 */
export function runCommand<T extends ArgsDef>(name: string, command: CommandDef<T>): void {
  const argv = process.argv.slice(2);
  const unknown = unknownFlags((command.args ?? {}) as ArgsDef, argv);
  if (unknown.length && !argv.some((a) => a === "--help" || a === "-h")) {
    process.stderr.write(`${name}: unknown option ${unknown.map((u) => `--${u}`).join(", ")} (see --help)\n`);
    process.exit(2);
  }
  const run = command.run;
  void runMain({
    ...command,
    run: async (ctx) => {
      try {
        return await run?.(ctx);
      } catch (err) {
        exitOnFatal(err, name);
      }
    },
  });
}
