/**
 * Behavioural predictions evaluated offline from the loaders (`bun bench/eval-predictions.ts [cdnow|online-retail]`):
 * the same pure code the insight runs (fitPredictionModel at the cutoff on the history before
 * it, customerPredictions per customer), scored by src/eval/prediction-scores.ts against what
 * customers did over the horizon, at the churn eval's cutoffs and horizons. `bun run eval`
 * measures the same through the running system. Writes bench/results/predictions-eval.json.
 */
import { mkdir } from "node:fs/promises";
import { DAY_MS, fitBgnbd, repeatSummary } from "../pipelines/bgnbd.ts";
import type { CustomerHistory } from "../pipelines/churn-features.ts";
import { customerPredictions } from "../pipelines/customer-predictions.ts";
import { scorePredictions, type PredictionScores } from "../src/eval/prediction-scores.ts";
import { fitPredictionModel } from "../src/inference/prediction-model.ts";
import { loadCdnow } from "../src/eval/loaders/load-cdnow.ts";
import { sharedData } from "../scripts/lib/shared-data.ts";
import { loadOnlineRetail } from "../src/eval/loaders/load-online-retail.ts";

const DATASETS = [
  { name: "cdnow", load: () => loadCdnow(sharedData("cdnow", "CDNOW_master.txt")), cutoffDay: "1997-12-31", horizonDays: 182, currency: "USD" },
  { name: "online-retail", load: () => loadOnlineRetail(sharedData("online-retail", "by-day")), cutoffDay: "2011-09-10", horizonDays: 90, currency: "GBP" },
];

const only = process.argv[2];
const fmt = (v: number, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : "n/a");
const reports: (PredictionScores & { dataset: string; cutoff: string; seconds: { bgnbd: number; fit: number; predict: number; score: number }; backtest: unknown; corrections: unknown })[] = [];

for (const spec of DATASETS.filter((d) => !only || d.name === only)) {
  const histories = await spec.load();
  const cutoffMs = Date.parse(`${spec.cutoffDay}T00:00:00Z`) + DAY_MS;
  const before: CustomerHistory[] = histories
    .map((h) => ({ ...h, purchases: h.purchases.filter((p) => p.ts < cutoffMs), events: h.events.filter((e) => e.ts < cutoffMs) }))
    .filter((h) => h.purchases.length > 0);
  const t0 = performance.now();
  const bgnbd = fitBgnbd(before.map((h) => repeatSummary(h.purchases.map((p) => p.ts), cutoffMs)!)).params;
  const tBgnbd = performance.now();
  const model = fitPredictionModel(before, cutoffMs, spec.horizonDays, bgnbd);
  const t1 = performance.now();
  const predictions = new Map(before.map((h) => [h.customerId, customerPredictions(bgnbd, model, h, cutoffMs, spec.currency)]));
  const t2 = performance.now();
  const scores = scorePredictions({ histories, cutoffMs, horizonDays: spec.horizonDays, predictionsOf: (id) => predictions.get(id), lifeline: { bgnbd, model } });
  const t3 = performance.now();
  // The prediction model's fit beside the BG/NBD fit the churn artifacts already make (same run).
  const seconds = { bgnbd: (tBgnbd - t0) / 1000, fit: (t1 - tBgnbd) / 1000, predict: (t2 - t1) / 1000, score: (t3 - t2) / 1000 };
  reports.push({ dataset: spec.name, cutoff: spec.cutoffDay, ...scores, seconds, backtest: model.backtest, corrections: model.corrections });

  const lines = [
    `\n== ${spec.name}: cutoff ${spec.cutoffDay}, horizon ${spec.horizonDays} d, ${scores.customers} customers; did on average ${fmt(scores.actual.purchases)} purchase days, ${fmt(scores.actual.spend, 2)} ${spec.currency}`,
    `BG/NBD fit ${fmt(seconds.bgnbd, 1)} s; prediction model fit ${fmt(seconds.fit, 1)} s (${fmt(seconds.fit / seconds.bgnbd, 1)}× it); predictions ${fmt((1000 * seconds.predict) / before.length, 3)} ms per customer; scoring ${fmt(seconds.score, 1)} s; back-test ${model.backtest.rows} rows at ${model.backtest.snapshots.map((s) => s.slice(0, 10)).join(", ")}`,
    ...model.backtest.candidates.map((c) => `  ${c.chosen ? "*" : " "} ${c.target.padEnd(9)} ${c.name.padEnd(34)} validation MAE ${fmt(c.mae, 4)}`),
    "method                          purchases MAE  bias     spend MAE   bias",
    ...scores.methods.map((m) => `${m.label.padEnd(31)} ${fmt(m.purchases.mae, 4).padStart(13)}  ${fmt(m.purchases.bias, 4).padStart(7)}  ${fmt(m.spend.mae, 2).padStart(10)}  ${fmt(m.spend.bias, 2).padStart(7)}`),
    `diagnostics: BG/NBD's MAE if it were exactly right ${fmt(scores.diagnostics.bgnbdImpliedMae, 4)}; its predictive median would score MAE ${fmt(scores.diagnostics.bgnbdMedian.mae, 4)} (bias ${fmt(scores.diagnostics.bgnbdMedian.bias, 4)})`,
    `MAE ÷ plain: purchases ${fmt(scores.targets.purchasesMaeVsPlain, 4)} → ${scores.targets.purchasesMet ? "met" : "NOT met"}; spend ${fmt(scores.targets.spendMaeVsPlain, 4)} → ${scores.targets.spendMet ? "met" : "NOT met"} (target ≤ 0.95 and ≤ last period)`,
    `90 % interval coverage: purchases ${fmt(scores.coverage.purchases)}, spend ${fmt(scores.coverage.spend)} → ${scores.targets.coverageMet ? "met" : "NOT met"} (target 0.85–0.95)`,
    `repeat purchases at the horizon: predicted ${fmt(scores.curve.lifeline.at(-1)!, 0)} vs actual ${scores.curve.actual.at(-1)} (ratio ${fmt(scores.curveRatioAtHorizon, 4)}) → ${scores.targets.curveMet ? "met" : "NOT met"} (target within 5 %)`,
    `next purchase: overdue ${scores.nextPurchase.overdue.customers} bought in horizon ${fmt(scores.nextPurchase.overdue.boughtInHorizon)}; not overdue ${scores.nextPurchase.notOverdue.customers} bought ${fmt(scores.nextPurchase.notOverdue.boughtInHorizon)}; interval held the next order for ${fmt(scores.nextPurchase.intervalCoverage.share)} of ${scores.nextPurchase.intervalCoverage.customers}`,
  ];
  process.stdout.write(lines.join("\n") + "\n");
}

if (!only) {
  await mkdir(new URL("./results/", import.meta.url), { recursive: true });
  await Bun.write(new URL("./results/predictions-eval.json", import.meta.url), JSON.stringify({ generatedAt: new Date().toISOString(), reports }, null, 2));
}
