/**
 * `bun run import`: reads CSV / JSON-lines / whitespace files, maps rows to Segment events and
 * sends them through the API's /v1/batch, resumably. See docs/bring-your-own-data.md.
 */
import { sharedDataDir } from "./lib/shared-data";
import { apiUrl, cliTarget, roleKey, type CliTarget } from "./lib/instance";
import { createHash } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { defineCommand } from "citty";
import { runCommand } from "./lib/run-command";
import { createApiClient, ImportFatalError } from "../src/import/api-client";
import { builtinMappings, resolveMapping } from "../src/import/builtin-mappings";
import { runImport } from "../src/import/import-run";
import { httpLagProbe, redisLagProbe, type LagProbe } from "../src/import/lag-probe";
import type { Mapping } from "../src/import/mapping";
import { listInputFiles } from "../src/import/read-rows";

function mappingNamed(nameOrFile: string): Mapping {
  const mapping = resolveMapping(nameOrFile);
  if (mapping) return mapping;
  throw new ImportFatalError(`--mapping ${nameOrFile}: not a built-in mapping (${Object.keys(builtinMappings).join(", ")}) nor a mapping file`);
}

/** --key, LIFELINE_WRITE_KEY, the first of LIFELINE_WRITE_KEYS, the running instance's, or the key `npm start` stored. */
function resolveKey(target: CliTarget, flag: string | undefined): string {
  const key = roleKey(target, "WRITE", flag || process.env.LIFELINE_WRITE_KEY);
  if (key) return key;
  throw new ImportFatalError(`no write key: pass --key, set LIFELINE_WRITE_KEY, or run \`npm start\` once so ${join(target.dataDir, "keys.json")} exists`);
}

function parseDate(flag: string, value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new ImportFatalError(`${flag} ${value}: not a date (use ISO-8601, e.g. 2011-09-01 or 2011-09-01T00:00:00Z)`);
  return ms;
}

function positiveInt(flag: string, value: string | undefined, fallback?: number): number | undefined {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new ImportFatalError(`${flag} ${value}: expected a whole number > 0`);
  return n;
}

const main = defineCommand({
  meta: {
    name: "import",
    description:
      "Import CSV / JSON-lines files of transactions or events into Lifeline through its /v1/batch API.\n" +
      `Built-in mappings: ${Object.entries(builtinMappings).map(([n, m]) => `\n  ${n.padEnd(14)} ${m.description}`).join("")}\n` +
      "Re-running is safe: messageIds come from the rows, a checkpoint skips what was acknowledged.",
  },
  args: {
    input: { type: "positional", required: false, description: "file, folder (sorted) or glob; built-in mappings default to their data set under --data-root" },
    mapping: { type: "string", required: true, description: "built-in mapping name or a mapping file (JSON)", valueHint: "name|file" },
    url: { type: "string", description: "Lifeline API base URL (default: the one `npm start` runs from the data folder, else http://127.0.0.1:$PORT)" },
    key: { type: "string", description: "write key (default: LIFELINE_WRITE_KEY, LIFELINE_WRITE_KEYS, the running instance's, or <data dir>/keys.json)" },
    "data-dir": { type: "string", description: "data folder of the instance (default: LIFELINE_DATA_DIR or ./data of this checkout)" },
    checkpoint: { type: "string", description: "checkpoint file (default: <data dir>/import/<mapping>-<input hash>.checkpoint.json)" },
    rejects: {
      type: "string",
      description: "reject file, JSON lines {file, line, reason, row} (default: a new one per input and run, <data dir>/import/<mapping>-<input hash>/<time>.rejects.jsonl)",
    },
    omitted: { type: "string", description: "file of good lines left out by a size limit (default: beside the reject file, .omitted.jsonl)" },
    "group-memory-mb": { type: "string", default: "64", description: "grouped mappings: MB of input grouped in memory; a larger input is grouped through temporary bucket files" },
    fresh: { type: "boolean", default: false, description: "ignore and delete an existing checkpoint (events already sent become duplicates)" },
    concurrency: { type: "string", default: "4", description: "requests in flight" },
    "batch-size": { type: "string", default: "500", description: "events per request (bodies are also kept under 450 KB)" },
    limit: { type: "string", description: "read at most this many rows in this run (the checkpoint lets the next run continue)" },
    since: { type: "string", description: "only events at or after this date (ISO-8601)" },
    until: { type: "string", description: "only events before this date (ISO-8601)" },
    "max-lag": { type: "string", description: "wait while the pipeline backlog is above this (from GET /ready, or Redis with --redis-url)" },
    "redis-url": { type: "string", description: "read the backlog from this Redis (consumer-group lag + waiting clean jobs)" },
    "key-prefix": { type: "string", description: "LIFELINE_KEY_PREFIX of the instance (with --redis-url; default: the running instance's)" },
    "data-root": { type: "string", description: "where the built-in data sets live (default: ../shared/data beside the checkout, or LIFELINE_SHARED_DATA)" },
    "dry-run": { type: "boolean", default: false, description: "map and count, write rejects, send nothing" },
    progress: { type: "boolean", default: true, description: "progress bar on stderr", negativeDescription: "no progress bar" },
  },
  async run({ args }) {
    const target = cliTarget({ dataDir: args["data-dir"] });
    const dataDir = target.dataDir;
    const mapping = mappingNamed(args.mapping);
    const input = args.input || (mapping.defaultInput && join(args["data-root"] || sharedDataDir(), mapping.defaultInput));
    if (!input) throw new ImportFatalError("name the file, folder or glob to import");
    const files = listInputFiles(input, mapping.extensions);
    if (!files.length) throw new ImportFatalError(`no ${mapping.extensions.join("/") || ""} files in ${input}`);

    const inputHash = createHash("sha256").update(resolve(input)).digest("hex").slice(0, 8);
    const checkpointPath = args.checkpoint ?? join(dataDir, "import", `${mapping.name}-${inputHash}.checkpoint.json`);
    // Every run keeps its own reject and omitted files: the next import overwrites nothing.
    const runStamp = new Date().toISOString().replace(/[:.]/g, "-");
    const rejectsPath = args.rejects ?? join(dataDir, "import", `${mapping.name}-${inputHash}`, `${runStamp}${args["dry-run"] ? "-dry-run" : ""}.rejects.jsonl`);
    const omittedPath = args.omitted ?? rejectsPath.replace(/(\.rejects)?(\.jsonl)?$/, ".omitted.jsonl");
    if (args.fresh) rmSync(checkpointPath, { force: true });
    // A reject file named with --rejects is yours: a run from scratch starts it anew, a resumed run adds to it.
    if (args.rejects && (args["dry-run"] || !existsSync(checkpointPath))) for (const path of [rejectsPath, omittedPath]) rmSync(path, { force: true });

    const maxLag = positiveInt("--max-lag", args["max-lag"]);
    const api = args["dry-run"] ? undefined : createApiClient({ url: apiUrl(target, args.url), key: resolveKey(target, args.key) });
    let lag: LagProbe | undefined;
    const prefix = args["key-prefix"] || target.env.LIFELINE_KEY_PREFIX || "lifeline";
    if (api) lag = args["redis-url"] ? redisLagProbe(args["redis-url"], prefix, maxLag ?? 2_000) : httpLagProbe(api, maxLag);

    const abort = new AbortController();
    process.once("SIGINT", () => {
      process.stderr.write("\nstopping: finishing requests in flight and saving the checkpoint (Ctrl-C again to quit now)\n");
      abort.abort();
      process.once("SIGINT", () => process.exit(130));
    });
    let samples = 0;
    try {
      const summary = await runImport({
        mapping,
        files,
        api,
        checkpointPath,
        rejectsPath,
        omittedPath,
        groupMemoryBytes: positiveInt("--group-memory-mb", args["group-memory-mb"], 64)! * 1024 * 1024,
        concurrency: positiveInt("--concurrency", args.concurrency, 4),
        batchSize: Math.min(positiveInt("--batch-size", args["batch-size"], 500)!, 2_500),
        limit: positiveInt("--limit", args.limit),
        sinceMs: parseDate("--since", args.since),
        untilMs: parseDate("--until", args.until),
        dryRun: args["dry-run"],
        lag,
        showProgress: args.progress,
        signal: abort.signal,
        onEvent: args["dry-run"] ? (e, file, line) => void (samples++ < 3 && process.stderr.write(`sample ${file}:${line} ${JSON.stringify(e)}\n`)) : undefined,
      });
      process.stdout.write(`${JSON.stringify({ mapping: mapping.name, files: files.length, checkpoint: args["dry-run"] ? null : checkpointPath, rejects: rejectsPath, omittedLines: omittedPath, ...summary })}\n`);
      if (abort.signal.aborted) process.exitCode = 130;
    } finally {
      lag?.close();
    }
  },
});

runCommand("import", main);
