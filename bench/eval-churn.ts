/**
 * Churn evaluation with a time split (`bun bench/eval-churn.ts`).
 *
 * Protocol: customers = everyone with a purchase on or before the cutoff day; churned = no
 * purchase in the horizon after it. Every model only sees data up to the cutoff: the
 * Lifeline model and the GBM-on-RFM baseline are trained on snapshots one horizon (and
 * more) earlier whose outcome windows close by the cutoff; hyper-parameters are chosen on a
 * customer-level validation fold of those training snapshots, never on the test period.
 * Writes bench/results/churn-eval.json.
 */
import { mkdir } from "node:fs/promises";
import { DAY_MS } from "../pipelines/bgnbd.ts";
import type { CustomerHistory } from "../pipelines/churn-features.ts";
import { auc, brier, calibrationTable, expectedCalibrationError, intervalCoverage, logLoss, prAuc, type CalibrationBin } from "../pipelines/metrics.ts";
import { churnScorer, fitChurnArtifacts } from "../src/inference/churn-artifacts.ts";
import { sigmoid } from "../src/inference/churn-gbm.ts";
import {
  fitPlatt,
  trainRfmGbm,
  type ChurnDefinition,
} from "../src/inference/churn-model.ts";
import { buildSnapshot, buildTrainingSet, snapshotNeighbourIndex } from "../src/inference/churn-training.ts";
import { loadCdnow } from "../src/eval/loaders/load-cdnow.ts";
import { loadOnlineRetail } from "../src/eval/loaders/load-online-retail.ts";
import { sharedData } from "../scripts/lib/shared-data.ts";
import { parseCli } from "../src/process/cli";

parseCli({ command: "bun run eval:churn", description: "Churn AUC, Brier and calibration on CDNOW and Online Retail against BG/NBD, recency-only and GBM-on-RFM baselines; writes bench/results/churn-eval.json." });

type DatasetSpec = {
  name: string;
  load: () => Promise<CustomerHistory[]>;
  cutoffDay: string;
  horizonDays: number;
  snapshots: number;
  stepDays: number;
  reference: Record<string, number>;
};

const DATASETS: DatasetSpec[] = [
  {
    name: "cdnow-master",
    load: () => loadCdnow(sharedData("cdnow", "CDNOW_master.txt")),
    cutoffDay: "1997-12-31",
    horizonDays: 182,
    // Snapshots 1997-07-03 back to 1997-04-04 (cohort acquired Jan–Mar 1997); all label windows close by the cutoff.
    snapshots: 4,
    stepDays: 30,
    reference: { recency: 0.795, bgnbd: 0.788, gbmRfm: 0.801 },
  },
  {
    name: "online-retail",
    load: () => loadOnlineRetail(sharedData("online-retail", "by-day")),
    cutoffDay: "2011-09-10",
    horizonDays: 90,
    // Snapshots 2011-06-13 back to 2011-01-10 (data start 2010-12-01); all label windows close by the cutoff.
    snapshots: 12,
    stepDays: 14,
    reference: { recency: 0.683, bgnbd: 0.733, gbmRfm: 0.706 },
  },
];

type Scored = { name: string; auc: number; prAuc: number; brier: number; logLoss: number; ece: number; calibration: CalibrationBin[] };

function score(name: string, probabilities: number[], labels: number[], rankScores = probabilities): Scored {
  const calibration = calibrationTable(probabilities, labels, 10);
  return {
    name,
    auc: auc(rankScores, labels),
    prAuc: prAuc(rankScores, labels),
    brier: brier(probabilities, labels),
    logLoss: logLoss(probabilities, labels),
    ece: expectedCalibrationError(calibration),
    calibration,
  };
}

async function evaluate(spec: DatasetSpec) {
  const started = performance.now();
  const histories = await spec.load();
  const cutoffMs = Date.parse(`${spec.cutoffDay}T00:00:00Z`) + DAY_MS; // purchases on the cutoff day count as history
  const definition: ChurnDefinition = { horizonDays: spec.horizonDays, basis: "purchase", explicitCancellation: true };

  // Exactly what a refit as of the cutoff fits (model choice on the tenant's own snapshots, signals, reference, intervals).
  const before = histories.map((h) => ({ ...h, purchases: h.purchases.filter((p) => p.ts < cutoffMs), events: h.events.filter((e) => e.ts < cutoffMs) }));
  const artifacts = fitChurnArtifacts(before, cutoffMs, definition);
  const scorer = churnScorer(artifacts);
  const training = buildTrainingSet(histories, cutoffMs, definition, {
    snapshots: spec.snapshots,
    stepDays: spec.stepDays,
    minCustomers: 500,
  });

  const test = buildSnapshot(histories, cutoffMs, definition, {
    labelled: true,
    neighbours: { kind: "index", index: snapshotNeighbourIndex(training.latest.rows) },
  });
  const labels = test.rows.map((r) => r.label);
  const byId = new Map(before.map((h) => [h.customerId, h]));
  const predictions = test.rows.map((r) => scorer.score(byId.get(r.customerId)!, cutoffMs));

  const latestRows = training.latest.rows;
  const recencyPlatt = fitPlatt(latestRows.map((r) => Math.log1p(r.features.values.recency_days)), latestRows.map((r) => r.label));
  const rfm = trainRfmGbm(latestRows.map(({ customerId, features, label }) => ({ customerId, features, label })));

  const results = [
    score("lifeline", predictions.map((p) => p.probability), labels),
    score("bgnbd", test.rows.map((r) => r.features.values.bgnbd_p_no_purchase), labels),
    score(
      "recency",
      test.rows.map((r) => sigmoid(recencyPlatt.slope * Math.log1p(r.features.values.recency_days) + recencyPlatt.intercept)),
      labels,
      test.rows.map((r) => r.features.values.recency_days),
    ),
    score("gbm-rfm", test.rows.map((r) => rfm(r.features)), labels),
  ];
  const lifeline = results[0]!;
  const bestBaselineAuc = Math.max(...results.slice(1).map((r) => r.auc));
  const bgnbdBrier = results[1]!.brier;
  const coverage = intervalCoverage(predictions.map((p) => ({ probability: p.probability, low: p.interval.low, high: p.interval.high })), labels);
  return {
    dataset: spec.name,
    cutoff: spec.cutoffDay,
    horizonDays: spec.horizonDays,
    customers: test.rows.length,
    churnRate: labels.reduce((s, y) => s + y, 0) / labels.length,
    model: { version: artifacts.version, learned: Boolean(artifacts.model), trainingRows: artifacts.trainingRows, choice: artifacts.choice ?? null, note: artifacts.note ?? null, signals: artifacts.signals.effects },
    intervalCoverage: coverage,
    bgnbdAtCutoff: test.bgnbd,
    results,
    referenceAuc: spec.reference,
    target: {
      aucAtLeast: bestBaselineAuc + 0.02,
      aucMet: lifeline.auc >= bestBaselineAuc + 0.02,
      brierAtMost: bgnbdBrier,
      brierMet: lifeline.brier <= bgnbdBrier,
    },
    seconds: (performance.now() - started) / 1000,
  };
}

const fmt = (v: number) => v.toFixed(3);
const reports = [];
for (const spec of DATASETS) {
  const report = await evaluate(spec);
  reports.push(report);
  const lines = [
    `\n== ${report.dataset}: cutoff ${report.cutoff}, horizon ${report.horizonDays} d, ${report.customers} customers, churn rate ${fmt(report.churnRate)} (${report.seconds.toFixed(1)} s)`,
    `model ${report.model.version}: ${report.model.choice ? `${report.model.choice.method}, chosen ${report.model.choice.chosen} (${report.model.choice.reason})` : report.model.note}`,
    ...(report.model.choice?.candidates ?? []).map((c) => `  candidate ${c.name.padEnd(22)} validation AUC ${c.auc.toFixed(4)}  Brier ${c.brier.toFixed(4)}`),
    `  baseline  BG/NBD                 validation AUC ${report.model.choice?.baseline.auc.toFixed(4) ?? "-"}`,
    `90% interval coverage of decile bins: ${fmt(report.intervalCoverage.coverage)} (${report.intervalCoverage.bins.map((b) => `${b.observedRate.toFixed(2)}∈[${b.low.toFixed(2)},${b.high.toFixed(2)}]`).join(" ")})`,
    "model        AUC    PR-AUC  Brier  logloss ECE    published AUC",
    ...report.results.map((r) => {
      const published = { recency: spec.reference.recency, bgnbd: spec.reference.bgnbd, "gbm-rfm": spec.reference.gbmRfm }[r.name];
      return `${r.name.padEnd(12)} ${fmt(r.auc)}  ${fmt(r.prAuc)}   ${fmt(r.brier)}  ${fmt(r.logLoss)}   ${fmt(r.ece)}  ${published === undefined ? "-" : fmt(published)}`;
    }),
    `target: AUC ≥ ${fmt(report.target.aucAtLeast)} → ${report.target.aucMet ? "met" : "NOT met"}; Brier ≤ ${fmt(report.target.brierAtMost)} → ${report.target.brierMet ? "met" : "NOT met"}`,
    "calibration (deciles, mean predicted / observed):",
    ...report.results.map((r) => `  ${r.name.padEnd(10)} ${r.calibration.map((b) => `${b.meanPredicted.toFixed(2)}/${b.observedRate.toFixed(2)}`).join(" ")}`),
  ];
  process.stdout.write(lines.join("\n") + "\n");
}
await mkdir(new URL("./results/", import.meta.url), { recursive: true });
await Bun.write(
  new URL("./results/churn-eval.json", import.meta.url),
  JSON.stringify({ generatedAt: new Date().toISOString(), reports }, null, 2),
);
