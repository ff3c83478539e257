/**
 * `bun run eval`: for a data set and a cutoff, import the history before the cutoff through a
 * private running Lifeline (redis-server, API, workers), score every customer through the real
 * inference path as of the cutoff, and compare with what happened after it, beside baselines.
 * Writes bench/results/eval-<dataset>.json and a self-contained eval-<dataset>.html.
 * See docs/bring-your-own-data.md ("Evaluate on your history").
 */
import { sharedDataDir } from "./lib/shared-data";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { defineCommand, runMain } from "citty";
import { loadConfig } from "../src/config";
import { datasetSpecs, EVAL_DATASETS, type EvalDatasetName } from "../src/eval/datasets";
import { formatFigure, type EvalReport } from "../src/eval/eval-report";
import { reportHtml } from "../src/eval/report-html";
import { evaluateDataset } from "../src/eval/run-eval";
import { createLogger } from "../src/log/logger";
import { startRedis } from "./lib/redis-process";

const money = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : "n/a");

function summary(r: EvalReport): string {
  const lines = [
    `\n== ${r.dataset}: cutoff ${r.cutoff} (${r.cutoffIso}), horizon ${r.horizonDays} d, ${r.churn.customers} customers, churn rate ${formatFigure(r.churn.churnRate)}, ${r.runtimeSeconds} s`,
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

const main = defineCommand({
  meta: { name: "eval", description: "Evaluate churn and recommendations on real history with a time split, through the running system" },
  args: {
    dataset: { type: "string", default: "all", description: `${EVAL_DATASETS.join(" | ")} | all` },
    cutoff: { type: "string", description: "cutoff: YYYY-MM-DD (that day is history) or an ISO time (default per data set)" },
    "horizon-days": { type: "string", description: "days after the cutoff that decide churn and hold the target purchases (default per data set)" },
    sample: { type: "string", description: "customers to evaluate, a deterministic hash sample (default per data set; 0 = all)" },
    out: { type: "string", default: "bench/results", description: "where eval-<dataset>.json and .html go" },
    "data-root": { type: "string", description: "where the data sets live (default: ../shared/data beside the checkout, or LIFELINE_SHARED_DATA)" },
  },
  async run({ args }) {
    const names: EvalDatasetName[] = args.dataset === "all" ? [...EVAL_DATASETS] : [args.dataset as EvalDatasetName];
    for (const n of names) if (!datasetSpecs[n]) throw new Error(`--dataset ${n}: expected ${EVAL_DATASETS.join(", ")} or all`);
    if (names.length > 1 && args.cutoff) throw new Error("--cutoff applies to one data set; add --dataset");
    const number = (flag: string, v: string | undefined) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new Error(`--${flag} ${v}: expected a whole number`);
      return n;
    };
    const log = createLogger(loadConfig({ LOG_LEVEL: process.env.LOG_LEVEL ?? "info" }), "eval");
    const redis = await startRedis();
    mkdirSync(args.out, { recursive: true });
    try {
      for (const name of names) {
        const report = await evaluateDataset({
          spec: datasetSpecs[name],
          dataRoot: resolve(args["data-root"] || sharedDataDir()),
          redisUrl: redis.url,
          log,
          cutoff: args.cutoff,
          horizonDays: number("horizon-days", args["horizon-days"]),
          sample: number("sample", args.sample),
          env: process.env,
        });
        writeFileSync(join(args.out, `eval-${name}.json`), JSON.stringify(report, null, 2) + "\n");
        writeFileSync(join(args.out, `eval-${name}.html`), reportHtml(report));
        process.stdout.write(summary(report) + `\n   wrote ${join(args.out, `eval-${name}.json`)} and .html\n`);
      }
    } finally {
      await redis.stop();
    }
  },
});

runMain(main).catch((err) => {
  process.stderr.write(`eval failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
