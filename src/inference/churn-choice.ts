/**
 * Per-tenant choice of the churn model, on a time split of the tenant's own history: every
 * candidate (tree configuration × feature set) is trained on the older labelled snapshots and
 * judged on the latest one, beside BG/NBD's P(no purchase) on the same customers. The best
 * candidate is retrained on every snapshot and shipped, unless it loses to BG/NBD, in which case
 * no learned model ships and the answer says so. Its out-of-time predictions become the
 * calibration sample behind each probability's interval. Pure.
 */
import { z } from "zod";
import { FEATURE_NAMES, neighbourVector, type FeatureName } from "../../pipelines/churn-features";
import { auc, brier } from "../../pipelines/metrics";
import type { GbmOptions } from "./churn-gbm";
import { churnProbability, isValidationCustomer, trainChurnModel, VALIDATION_SHARE, type ChurnDefinition, type ChurnModel } from "./churn-model";
import { calibrationSample, type CalibrationSample } from "./churn-interval";
import { snapshotNeighbourIndex, type Snapshot } from "./churn-training";

const MIN_TRAINING_ROWS = 200;
const MIN_VALIDATION_ROWS = 100;
const MIN_PER_CLASS = 20;

/** Purchase rhythm and BG/NBD only: a smaller model that generalises better on thin data. */
const CORE_FEATURES: readonly FeatureName[] = [
  "recency_days",
  "frequency",
  "monetary_avg",
  "monetary_total_log",
  "tenure_days",
  "days_since_first_purchase",
  "ipt_mean_days",
  "overdue_ratio",
  "purchases_recent_window",
  "purchases_last_horizon",
  "orders_per_month",
  "recency_tenure_ratio",
  "bgnbd_p_alive",
  "bgnbd_expected_purchases",
  "bgnbd_p_no_purchase",
  "neighbour_churn_rate",
];

export type ChurnCandidate = { name: string; gbm: GbmOptions; features: readonly FeatureName[] };

const TREES = [
  { name: "shallow", gbm: { maxDepth: 2, learningRate: 0.08, minChildWeight: 20 } },
  { name: "medium", gbm: { maxDepth: 3, learningRate: 0.06, minChildWeight: 30 } },
  { name: "deep", gbm: { maxDepth: 4, learningRate: 0.05, minChildWeight: 50, lambda: 5 } },
];
export const CHURN_CANDIDATES: readonly ChurnCandidate[] = TREES.flatMap((t) => [
  { ...t, name: `${t.name}/all-features`, features: FEATURE_NAMES },
  { ...t, name: `${t.name}/core-features`, features: CORE_FEATURES },
]);

export const churnChoiceSchema = z.object({
  /** `time-split`: trained on older snapshots, judged on the latest; `customer-split`: one snapshot only, judged on held-out customers. */
  method: z.enum(["time-split", "customer-split"]),
  validationAsOf: z.string(),
  validationRows: z.number().int(),
  candidates: z.array(z.object({ name: z.string(), auc: z.number(), brier: z.number() })),
  baseline: z.object({ name: z.literal("bgnbd"), auc: z.number(), brier: z.number() }),
  /** The candidate shipped, or "bgnbd" when none beat it. */
  chosen: z.string(),
  reason: z.string(),
});
export type ChurnChoice = z.infer<typeof churnChoiceSchema>;

type Row = { customerId: string; features: Snapshot["rows"][number]["features"]; label: number };
const rowsOf = (snapshots: readonly Snapshot[]): Row[] => snapshots.flatMap((s) => s.rows.map(({ customerId, features, label }) => ({ customerId, features, label })));
const bothClasses = (labels: readonly number[]) => {
  const churned = labels.filter((y) => y === 1).length;
  return churned >= MIN_PER_CLASS && labels.length - churned >= MIN_PER_CLASS;
};
const round4 = (v: number) => Math.round(v * 10_000) / 10_000;

export function chooseChurnModel(
  snapshots: readonly Snapshot[],
  definition: ChurnDefinition,
  trainedAtMs: number,
  candidates: readonly ChurnCandidate[] = CHURN_CANDIDATES,
): { model?: ChurnModel; choice?: ChurnChoice; calibration?: CalibrationSample; note?: string } {
  const all = rowsOf(snapshots);
  const labels = all.map((r) => r.label);
  if (all.length < MIN_TRAINING_ROWS || !bothClasses(labels))
    return { note: `too little labelled history for a learned model (${all.length} rows, ${labels.filter((y) => y === 1).length} churned); scoring with BG/NBD` };

  const [latest, ...older] = snapshots;
  const olderRows = rowsOf(older);
  const canSplitInTime = latest!.rows.length >= MIN_VALIDATION_ROWS && bothClasses(latest!.rows.map((r) => r.label)) && olderRows.length >= MIN_TRAINING_ROWS && bothClasses(olderRows.map((r) => r.label));

  if (canSplitInTime) {
    // The latest snapshot's neighbour rates as scoring would see them: from the snapshot before it.
    const index = snapshotNeighbourIndex(older[0]!.rows);
    const validation = latest!.rows.map((r) => ({
      ...r,
      features: { ...r.features, values: { ...r.features.values, neighbour_churn_rate: index.rate(neighbourVector(r.features.values)) } },
    }));
    const y = validation.map((r) => r.label);
    const judged = candidates.map((c) => {
      const model = trainChurnModel(olderRows, { definition, trainedAtMs, gbm: c.gbm, features: c.features });
      const p = validation.map((r) => churnProbability(model, r.features));
      return { candidate: c, p, auc: auc(p, y), brier: brier(p, y) };
    });
    const baselineP = validation.map((r) => r.features.values.bgnbd_p_no_purchase);
    const baselineAuc = auc(baselineP, y);
    const baseline = { name: "bgnbd" as const, auc: round4(baselineAuc), brier: round4(brier(baselineP, y)) };
    const best = judged.reduce((a, b) => (b.auc > a.auc + 1e-9 ? b : a));
    const common = {
      method: "time-split" as const,
      validationAsOf: new Date(latest!.asOfMs).toISOString(),
      validationRows: validation.length,
      candidates: judged.map((j) => ({ name: j.candidate.name, auc: round4(j.auc), brier: round4(j.brier) })),
      baseline,
    };
    // A tie is a loss: the learned model must earn its complexity.
    if (best.auc <= baselineAuc + 1e-9) {
      const reason = `no candidate beat BG/NBD on the latest labelled customers (best ${best.candidate.name} AUC ${round4(best.auc)} vs ${baseline.auc}); scoring with BG/NBD`;
      return { choice: { ...common, chosen: "bgnbd", reason }, calibration: calibrationSample(baselineP, y), note: reason };
    }
    const model = trainChurnModel(all, { definition, trainedAtMs, gbm: best.candidate.gbm, features: best.candidate.features });
    return {
      model,
      choice: { ...common, chosen: best.candidate.name, reason: `best validation AUC (${round4(best.auc)}), above BG/NBD's ${baseline.auc}` },
      calibration: calibrationSample(best.p, y),
    };
  }

  // One labelled period only: judge on the customers the model holds out.
  const model = trainChurnModel(all, { definition, trainedAtMs, gbm: candidates[1]?.gbm ?? candidates[0]!.gbm, features: FEATURE_NAMES });
  const held = model.validation;
  const heldRows = all.filter((r) => isValidationCustomer(r.customerId, VALIDATION_SHARE));
  const heldY = heldRows.map((r) => r.label);
  const modelP = heldRows.map((r) => churnProbability(model, r.features));
  const baselineP = heldRows.map((r) => r.features.values.bgnbd_p_no_purchase);
  const baselineAuc = auc(baselineP, heldY);
  const baseline = { name: "bgnbd" as const, auc: round4(baselineAuc), brier: round4(brier(baselineP, heldY)) };
  const common = {
    method: "customer-split" as const,
    validationAsOf: new Date(latest!.asOfMs).toISOString(),
    validationRows: held.rows,
    candidates: [{ name: "medium/all-features", auc: round4(held.auc), brier: round4(brier(modelP, heldY)) }],
    baseline,
  };
  if (held.auc <= baselineAuc + 1e-9) {
    const reason = `the learned model did not beat BG/NBD on held-out customers (AUC ${round4(held.auc)} vs ${baseline.auc}); scoring with BG/NBD`;
    return { choice: { ...common, chosen: "bgnbd", reason }, calibration: calibrationSample(baselineP, heldY), note: reason };
  }
  return { model, choice: { ...common, chosen: "medium/all-features", reason: `held-out AUC ${round4(held.auc)}, above BG/NBD's ${baseline.auc}` }, calibration: calibrationSample(modelP, heldY) };
}
