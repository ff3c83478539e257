/**
 * `bun run eval`: for any history and a cutoff, import the history before the cutoff through a
 * private running Lifeline (redis-server, API, workers), score every customer through the real
 * inference path as of the cutoff, and compare with what the same mapped events say happened
 * after it, beside baselines. Writes eval-<name>.json and a self-contained eval-<name>.html.
 * See docs/bring-your-own-data.md ("Evaluate on your history").
 */
import { sharedDataDir } from "./lib/shared-data";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { defineCommand } from "citty";
import { runCommand } from "./lib/run-command";
import { loadConfig } from "../src/config";
import { evalRuns, strayArgument } from "../src/eval/eval-args";
import { EVAL_DATASETS } from "../src/eval/datasets";
import { formatFigure, type EvalReport } from "../src/eval/eval-report";
import { EvalUsageError } from "../src/eval/eval-usage-error";
import { reportHtml } from "../src/eval/report-html";
import { evaluate } from "../src/eval/run-eval";
import { createLogger } from "../src/log/logger";
import { startRedis } from "./lib/redis-process";

const money = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "n/a");

function summary(r: EvalReport): string {
  const lines = [
    `\n== ${r.dataset}: cutoff ${r.cutoff} (${r.cutoffIso}), horizon ${r.horizonDays} d, ${r.churn.customers} customers, churn rate ${formatFigure(r.churn.churnRate)}, ${r.runtimeSeconds} s`,
    ...r.warnings.map((w) => `   warning: ${w}`),
    `   model ${r.system.model.version} (${r.system.model.learned ? "learned" : "BG/NBD fallback"}); import ${r.system.seconds.import} s, drain ${r.system.seconds.drain} s, refit ${r.system.seconds.refit} s, score ${r.system.seconds.score} s`,
    "   churn model                          AUC    PR-AUC Brier  lift@10%",
    ...r.churn.models.map((m) => `   ${m.label.padEnd(36)} ${formatFigure(m.auc)}  ${formatFigure(m.prAuc)}  ${formatFigure(m.brier)}  ${m.liftTopDecile.toFixed(2)}`),
  ];
  const p = r.predictions;
  if (p)
    lines.push(
      `   predictions over ${p.horizonDays} d (${p.customers} customers)     purchases MAE  bias    spend MAE  bias`,
      ...p.methods.map((m) => `   ${m.label.padEnd(36)} ${formatFigure(m.purchases.mae)}  ${formatFigure(m.purchases.bias)}  ${money(m.spend.mae)}  ${money(m.spend.bias)}`),
      `   MAE ÷ plain: purchases ${formatFigure(p.targets.purchasesMaeVsPlain)}, spend ${formatFigure(p.targets.spendMaeVsPlain)} (target ≤ 0.95): ${p.targets.purchasesMet && p.targets.spendMet ? "met" : "NOT met"}; 90 % coverage purchases ${formatFigure(p.coverage.purchases)}, spend ${formatFigure(p.coverage.spend)}: ${p.targets.coverageMet ? "met" : "NOT met"}; repeat purchases at the horizon ${formatFigure(p.curveRatioAtHorizon)}× actual`,
    );
  if (r.recs)
    lines.push(
      `   recommendations (${r.recs.evaluated} customers, catalogue ${r.recs.catalogue})   HR@10  NDCG@10 coverage`,
      ...r.recs.methods.map((m) => `   ${m.label.padEnd(36)} ${formatFigure(m.hr)}  ${formatFigure(m.ndcg)}  ${formatFigure(m.coverage)}`),
      `   Lifeline HR@10 = ${r.recs.hrRatioToMostPopular.toFixed(2)}× most-popular; target (≥ 1.5× and above co-occurrence) ${r.recs.meetsTarget ? "met" : "NOT met"}`,
    );
  return lines.join("\n");
}

const args = {
  input: { type: "string", valueHint: "PATH", description: "your history: a file, folder or glob, read with --mapping (as `bun run import` reads it)" },
  mapping: { type: "string", description: "a mapping file (JSON, as for `bun run import`) or a built-in mapping name", valueHint: "file|name" },
  name: { type: "string", valueHint: "my-shop", description: "names the report eval-<name>.json / .html (default: the data set, or the mapping's name)" },
  dataset: { type: "string", valueHint: "cdnow", description: `a built-in data set: ${EVAL_DATASETS.join(" | ")} | all (the default without --input)` },
  cutoff: { type: "string", valueHint: "2024-01-01", description: "YYYY-MM-DD (the start of that day, UTC) or an ISO time: history is before it (required with --input)" },
  "horizon-days": { type: "string", valueHint: "90", description: "days after the cutoff that decide churn and hold the purchases to predict (required with --input)" },
  examples: { type: "string", valueHint: "id,id", description: "customers whose answers the report shows first (Lifeline ids, comma-separated)" },
  sample: { type: "string", valueHint: "5000", description: "customers to evaluate, a deterministic hash sample by customer id (default: all; 0 = all)" },
  out: { type: "string", valueHint: "bench/results", default: "bench/results", description: "where eval-<name>.json and .html go" },
  "data-root": { type: "string", valueHint: "../shared/data", description: "where the built-in data sets live (default: ../shared/data beside the checkout, or LIFELINE_SHARED_DATA)" },
} as const;

const main = defineCommand({
  meta: { name: "eval", description: "Evaluate churn and recommendations on any history with a time split, through the running system" },
  args,
  async run({ args: a, rawArgs }) {
    const stray = strayArgument(rawArgs, Object.keys(args));
    if (stray) throw new EvalUsageError(stray);
    for (const flag of Object.keys(args) as (keyof typeof args)[])
      if (a[flag] === "" || (a[flag] as unknown) === true) throw new EvalUsageError(`--${flag} needs a value, e.g. --${flag} ${args[flag].valueHint}`);
    const runs = evalRuns(a, resolve(a["data-root"] || sharedDataDir()));
    const log = createLogger(loadConfig({ LOG_LEVEL: process.env.LOG_LEVEL ?? "info" }), "eval");
    const redis = await startRedis();
    mkdirSync(a.out, { recursive: true });
    try {
      for (const run of runs) {
        const report = await evaluate(run, { redisUrl: redis.url, log, env: process.env });
        const file = join(a.out, `eval-${run.name}`);
        writeFileSync(`${file}.json`, JSON.stringify(report, null, 2) + "\n");
        writeFileSync(`${file}.html`, reportHtml(report));
        process.stdout.write(summary(report) + `\n   wrote ${file}.json and .html\n`);
      }
    } finally {
      await redis.stop();
    }
  },
});

runCommand("eval", main);
