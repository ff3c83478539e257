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
import { auc, brier, calibrationTable, expectedCalibrationError, logLoss, prAuc, type CalibrationBin } from "../pipelines/metrics.ts";
import { sigmoid } from "../src/inference/churn-gbm.ts";
import {
  churnProbability,
  fitPlatt,
  predictChurn,
  trainChurnModel,
  trainRfmGbm,
  type ChurnDefinition,
  type ChurnModel,
} from "../src/inference/churn-model.ts";
import { buildSnapshot, buildTrainingSet, snapshotNeighbourIndex } from "../src/inference/churn-training.ts";
import { loadCdnow } from "../src/eval/loaders/load-cdnow.ts";
import { loadOnlineRetail } from "../src/eval/loaders/load-online-retail.ts";
import { sharedData } from "../scripts/lib/shared-data.ts";

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

const GRID = [
  { maxDepth: 2, learningRate: 0.08, minChildWeight: 20 },
  { maxDepth: 3, learningRate: 0.06, minChildWeight: 30 },
  { maxDepth: 4, learningRate: 0.05, minChildWeight: 50, lambda: 5 },
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

  const training = buildTrainingSet(histories, cutoffMs, definition, {
    snapshots: spec.snapshots,
    stepDays: spec.stepDays,
    minCustomers: 500,
  });
  const candidates = GRID.map((gbm) => trainChurnModel(training.rows, { definition, trainedAtMs: cutoffMs, gbm }));
  const model = candidates.reduce((best, m) => (m.validation.auc > best.validation.auc ? m : best));

  const test = buildSnapshot(histories, cutoffMs, definition, {
    labelled: true,
    neighbours: { kind: "index", index: snapshotNeighbourIndex(training.latest.rows) },
  });
  const labels = test.rows.map((r) => r.label);

  const latestRows = training.latest.rows;
  const recencyPlatt = fitPlatt(latestRows.map((r) => Math.log1p(r.features.values.recency_days)), latestRows.map((r) => r.label));
  const rfm = trainRfmGbm(latestRows.map(({ customerId, features, label }) => ({ customerId, features, label })));

  const results = [
    score("lifeline", test.rows.map((r) => churnProbability(model, r.features)), labels),
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
  const example = predictChurn(model, test.rows[0]!.features, cutoffMs);
  return {
    dataset: spec.name,
    cutoff: spec.cutoffDay,
    horizonDays: spec.horizonDays,
    customers: test.rows.length,
    churnRate: labels.reduce((s, y) => s + y, 0) / labels.length,
    training: {
      snapshots: training.snapshots.length,
      snapshotDates: training.snapshots.map((snap) => new Date(snap.asOfMs).toISOString().slice(0, 10)),
      stepDays: spec.stepDays,
      rows: training.rows.length,
      latestSnapshot: new Date(training.latest.asOfMs).toISOString().slice(0, 10),
      candidates: candidates.map((m, i) => ({
        ...GRID[i]!,
        trees: m.gbm.trees.length,
        gbmWeight: m.blend?.gbmWeight ?? 1,
        validationAuc: m.validation.auc,
      })),
      chosen: {
        ...GRID[candidates.indexOf(model)]!,
        trees: model.gbm.trees.length,
        gbmWeight: model.blend?.gbmWeight ?? 1,
        features: model.featureNames.length,
        modelVersion: model.modelVersion,
      },
    },
    bgnbdAtCutoff: test.bgnbd,
    results,
    referenceAuc: spec.reference,
    target: {
      aucAtLeast: bestBaselineAuc + 0.02,
      aucMet: lifeline.auc >= bestBaselineAuc + 0.02,
      brierAtMost: bgnbdBrier,
      brierMet: lifeline.brier <= bgnbdBrier,
    },
    examplePrediction: { customerId: test.rows[0]!.customerId, ...example },
    seconds: (performance.now() - started) / 1000,
    model: model as ChurnModel,
  };
}

const fmt = (v: number) => v.toFixed(3);
const reports = [];
for (const spec of DATASETS) {
  const report = await evaluate(spec);
  reports.push(report);
  const lines = [
    `\n== ${report.dataset}: cutoff ${report.cutoff}, horizon ${report.horizonDays} d, ${report.customers} customers, churn rate ${fmt(report.churnRate)} (${report.seconds.toFixed(1)} s)`,
    `chosen ${JSON.stringify(report.training.chosen)}`,
    `training: ${report.training.snapshots} snapshots (${report.training.snapshotDates.join(", ")}), ${report.training.rows} rows`,
    ...report.training.candidates.map(
      (c) => `  candidate depth ${c.maxDepth} lr ${c.learningRate} mcw ${c.minChildWeight}: ${c.trees} trees, tree weight ${c.gbmWeight}, validation AUC ${c.validationAuc.toFixed(4)}`,
    ),
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
  JSON.stringify({ generatedAt: new Date().toISOString(), reports: reports.map(({ model, ...rest }) => ({ ...rest, modelSize: model.gbm.trees.length })) }, null, 2),
);
