/**
 * `bun run eval`'s flags turned into runs: a built-in data set (`--dataset`), or any input read
 * through a mapping (`--input PATH --mapping FILE|NAME --cutoff ISO --horizon-days N`). Every
 * mistake is an EvalUsageError that names the flag, says why and how to fix it.
 */
import { join } from "node:path";
import { parseIsoTime } from "../../pipelines/iso-time";
import { builtinMappings, resolveMapping } from "../import/builtin-mappings";
import type { Mapping } from "../import/mapping";
import { listInputFiles } from "../import/read-rows";
import { datasetSpecs, EVAL_DATASETS, type DatasetSpec, type EvalDatasetName } from "./datasets";
import { EvalUsageError } from "./eval-usage-error";

export type EvalArgs = {
  dataset?: string;
  input?: string;
  mapping?: string;
  name?: string;
  cutoff?: string;
  "horizon-days"?: string;
  sample?: string;
  examples?: string;
};

export type EvalRun = {
  /** names the report: eval-<name>.json and .html */
  name: string;
  note: string;
  mapping: Mapping;
  /** the input as given (file, folder or glob) */
  input: string;
  files: string[];
  cutoff: string;
  cutoffMs: number;
  horizonDays: number;
  /** customers to evaluate (a deterministic hash sample); undefined = all */
  sample?: number;
  /** customers whose answers the report shows first, by id (the riskiest and safest follow) */
  examples?: string[];
  reference?: DatasetSpec["reference"];
};

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The cutoff instant. A bare date is the start of that day (UTC), as `bun run import --until`
 * reads it; an ISO-8601 time is taken as is (UTC when it has no offset).
 */
export function cutoffInstant(cutoff: string): number {
  const ms = parseIsoTime(DAY.test(cutoff) ? `${cutoff}T00:00:00Z` : cutoff);
  if (Number.isNaN(ms))
    throw new EvalUsageError(`--cutoff ${cutoff}: not a date; use YYYY-MM-DD (the start of that day, UTC) or an ISO-8601 time such as 2024-01-01T00:00:00Z`);
  return ms;
}

function wholeNumber(flag: string, value: string | undefined, min: number, example: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min)
    throw new EvalUsageError(`--${flag} ${value}: expected a whole number${min > 0 ? ` > 0` : " ≥ 0"}, e.g. --${flag} ${example}`);
  return n;
}

function inputFiles(input: string, mapping: Mapping, missing: string): string[] {
  let files: string[];
  try {
    files = listInputFiles(input, mapping.extensions);
  } catch {
    throw new EvalUsageError(missing);
  }
  if (!files.length)
    throw new EvalUsageError(`${input}: no input files there (mapping ${mapping.name} reads files ending ${mapping.extensions.map((e) => `.${e}`).join(", ")}); check the path or the mapping's "extensions"`);
  return files;
}

/** The runs the flags ask for; `dataRoot` holds the built-in data sets. */
export function evalRuns(a: EvalArgs, dataRoot: string): EvalRun[] {
  const sample = wholeNumber("sample", a.sample, 0, "5000") || undefined;
  const horizonDays = wholeNumber("horizon-days", a["horizon-days"], 1, "90");
  if (a.cutoff !== undefined) cutoffInstant(a.cutoff);
  if (a.name !== undefined && !NAME.test(a.name))
    throw new EvalUsageError(`--name ${a.name}: use letters, digits, _ . - only (it names the files eval-${a.name}.json and .html)`);

  if (a.input === undefined && a.mapping === undefined) return datasetRuns(a, dataRoot, horizonDays, sample);
  if (a.dataset !== undefined)
    throw new EvalUsageError("--dataset cannot be combined with --input/--mapping: use --dataset for a built-in data set, or --input with --mapping for your own data");
  if (a.mapping === undefined)
    throw new EvalUsageError(`--mapping is missing: --input ${a.input} needs the mapping file that reads it (see docs/bring-your-own-data.md) or a built-in mapping name (${Object.keys(builtinMappings).join(", ")})`);
  const mapping = usableMapping(a.mapping);
  const input = a.input ?? (mapping.defaultInput && join(dataRoot, mapping.defaultInput));
  if (!input) throw new EvalUsageError(`--input is missing: name the file, folder or glob that mapping ${mapping.name} reads`);
  // A built-in mapping on its own data set keeps that data set's window by default.
  const defaults = builtinMappings[a.mapping] ? datasetSpecs[a.mapping as EvalDatasetName] : undefined;
  const cutoff = a.cutoff ?? defaults?.defaultCutoff;
  if (cutoff === undefined)
    throw new EvalUsageError("--cutoff is missing: give the instant that splits history from the future, e.g. --cutoff 2024-01-01 (the start of that day, UTC)");
  const horizon = horizonDays ?? defaults?.defaultHorizonDays;
  if (horizon === undefined)
    throw new EvalUsageError("--horizon-days is missing: give the days after the cutoff that decide churn and hold the purchases to predict, e.g. --horizon-days 90");
  const files = inputFiles(input, mapping, `--input ${input}: no such file or folder; give the path of the file, folder or glob to evaluate`);
  return [
    {
      name: a.name ?? mapping.name,
      note: `${files.length === 1 ? "1 file" : `${files.length} files`} from ${input}, read with mapping ${mapping.name}.`,
      mapping,
      input,
      files,
      cutoff,
      cutoffMs: cutoffInstant(cutoff),
      horizonDays: horizon,
      sample,
      ...examplesOf(a),
    },
  ];
}

const examplesOf = (a: EvalArgs) => {
  const ids = (a.examples ?? "").split(",").map((id) => id.trim()).filter(Boolean);
  return ids.length ? { examples: ids } : {};
};

function usableMapping(nameOrFile: string): Mapping {
  let mapping: Mapping | undefined;
  try {
    mapping = resolveMapping(nameOrFile);
  } catch (err) {
    throw new EvalUsageError(`--mapping ${nameOrFile}: ${(err as Error).message}`);
  }
  if (!mapping) throw new EvalUsageError(`--mapping ${nameOrFile}: no such mapping file, nor a built-in mapping (${Object.keys(builtinMappings).join(", ")})`);
  return mapping;
}

function datasetRuns(a: EvalArgs, dataRoot: string, horizonDays: number | undefined, sample: number | undefined): EvalRun[] {
  const dataset = a.dataset ?? "all";
  if (dataset !== "all" && !(EVAL_DATASETS as readonly string[]).includes(dataset))
    throw new EvalUsageError(`--dataset ${dataset}: expected ${EVAL_DATASETS.join(", ")} or all (for your own data use --input with --mapping)`);
  const names = dataset === "all" ? [...EVAL_DATASETS] : [dataset as EvalDatasetName];
  if (names.length > 1 && (a.cutoff !== undefined || horizonDays !== undefined || a.name !== undefined))
    throw new EvalUsageError(`--${a.cutoff !== undefined ? "cutoff" : horizonDays !== undefined ? "horizon-days" : "name"} applies to one data set: add --dataset ${EVAL_DATASETS.join("|")}`);
  return names.map((name) => {
    const spec = datasetSpecs[name];
    const mapping = builtinMappings[name]!;
    const input = join(dataRoot, mapping.defaultInput!);
    const cutoff = a.cutoff ?? spec.defaultCutoff;
    const horizon = horizonDays ?? spec.defaultHorizonDays;
    const isDefaultWindow = cutoffInstant(cutoff) === cutoffInstant(spec.defaultCutoff) && horizon === spec.defaultHorizonDays;
    return {
      name: a.name ?? name,
      note: spec.note,
      mapping,
      input,
      files: inputFiles(input, mapping, `--dataset ${name}: no data at ${input}; point --data-root (or LIFELINE_SHARED_DATA) at the folder that holds ${mapping.defaultInput}`),
      cutoff,
      cutoffMs: cutoffInstant(cutoff),
      horizonDays: horizon,
      sample,
      ...examplesOf(a),
      ...(spec.reference && isDefaultWindow ? { reference: spec.reference } : {}),
    };
  });
}

/**
 * The first flag on the command line that `known` does not name (citty would take it silently,
 * and its value as a stray argument), or a stray argument.
 */
export function strayArgument(rawArgs: readonly string[], known: readonly string[]): string | undefined {
  const flags = new Set(known);
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (!arg.startsWith("--")) return `unexpected argument ${arg}: every input is a flag, e.g. --input ${arg}`;
    const flag = arg.slice(2).split("=")[0]!;
    if (!flags.has(flag)) return `unknown flag --${flag}: run \`bun run eval --help\` for the flags`;
    if (!arg.includes("=")) i++; // its value
  }
  return undefined;
}
