import { z } from "zod";
import { DAY_MS, fitBgnbd, repeatSummary, type BgnbdParams } from "../../pipelines/bgnbd";
import { churnFeatures, FEATURE_NAMES, FEATURE_WORDING, neighbourVector, type ChurnFeatures, type CustomerHistory, type FeatureName } from "../../pipelines/churn-features";
import { churnModelSchema, predictChurn, riskTier, trainChurnModel, type ChurnDefinition, type ChurnPrediction } from "./churn-model";
import { neighbourIndex, type NeighbourIndex } from "./churn-neighbours";
import { fitPredictionModel, fittedPredictionModelSchema } from "./prediction-model";
import { buildTrainingSet } from "./churn-training";

/** Published BG/NBD parameters of the CDNOW sample: the prior while a population is too small to fit. */
const PRIOR_BGNBD: BgnbdParams = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
const MIN_FIT_CUSTOMERS = 30;
const MIN_TRAINING_ROWS = 200;
const MIN_PER_CLASS = 20;

const definitionSchema = z.object({
  horizonDays: z.number().positive(),
  basis: z.enum(["purchase", "activity"]),
  explicitCancellation: z.boolean(),
});

/** Everything the workers need to score: fitted on the population by the refit job. */
export const churnArtifactsSchema = z.object({
  version: z.string(),
  trainedAt: z.string(),
  customers: z.number().int(),
  definition: definitionSchema,
  bgnbd: z.object({ r: z.number(), alpha: z.number(), a: z.number(), b: z.number() }),
  baseChurnRate: z.number(),
  /** Lifecycle vectors and outcomes of the latest labelled snapshot: the neighbour feature. */
  neighbours: z.object({ vectors: z.array(z.array(z.number())), outcomes: z.array(z.number()) }).optional(),
  /** The learned model; absent while there is too little labelled history (see `note`). */
  model: churnModelSchema.optional(),
  /** Population medians of each feature now, to explain the BG/NBD fallback's scores. */
  medians: z.record(z.string(), z.number()),
  note: z.string().optional(),
  /** Spend, rhythm and corrections behind the behavioural predictions (prediction-model.ts). */
  predictions: fittedPredictionModelSchema.optional(),
});
export type ChurnArtifacts = z.infer<typeof churnArtifactsSchema>;

export function fitChurnArtifacts(histories: readonly CustomerHistory[], nowMs: number, definition: ChurnDefinition): ChurnArtifacts {
  const buyers = histories.filter((h) => h.purchases.some((p) => p.ts < nowMs));
  const summaries = buyers.map((h) => repeatSummary(h.purchases.map((p) => p.ts), nowMs)).filter((s) => s !== null);
  const bgnbd = summaries.length >= MIN_FIT_CUSTOMERS ? fitBgnbd(summaries).params : PRIOR_BGNBD;

  let model: ChurnArtifacts["model"];
  let neighbours: ChurnArtifacts["neighbours"];
  let baseChurnRate = 0.5;
  let note: string | undefined;
  try {
    const { rows, latest } = buildTrainingSet(histories, nowMs, definition, { snapshots: 4, stepDays: Math.max(7, Math.round(definition.horizonDays / 2)) });
    const churned = rows.filter((r) => r.label === 1).length;
    baseChurnRate = rows.length ? churned / rows.length : baseChurnRate;
    neighbours = { vectors: latest.rows.map((r) => neighbourVector(r.features.values)), outcomes: latest.rows.map((r) => r.label) };
    if (rows.length >= MIN_TRAINING_ROWS && churned >= MIN_PER_CLASS && rows.length - churned >= MIN_PER_CLASS)
      model = trainChurnModel(rows, { definition, trainedAtMs: nowMs });
    else note = `too little labelled history for a learned model (${rows.length} rows, ${churned} churned); scoring with BG/NBD`;
  } catch (err) {
    note = `no labelled history yet (${(err as Error).message}); scoring with BG/NBD`;
  }

  const population = { bgnbd, horizonDays: definition.horizonDays, baseChurnRate };
  const current = buyers.map((h) => churnFeatures(h, nowMs, population).values);
  const medians = Object.fromEntries(FEATURE_NAMES.map((f) => [f, median(current.map((v) => v[f]))]));
  const trainedAt = new Date(nowMs).toISOString();
  return {
    version: model?.modelVersion ?? `bgnbd-${trainedAt.slice(0, 10).replaceAll("-", "")}-${hashParams(bgnbd)}`,
    trainedAt,
    customers: histories.length,
    definition,
    bgnbd,
    baseChurnRate,
    neighbours,
    model,
    medians,
    note,
    predictions: fitPredictionModel(histories, nowMs, definition.horizonDays, bgnbd),
  };
}

/** A scorer over one set of artifacts: builds the neighbour index once. */
export function churnScorer(artifacts: ChurnArtifacts) {
  const index: NeighbourIndex | undefined = artifacts.neighbours?.vectors.length ? neighbourIndex(artifacts.neighbours) : undefined;
  const population = { bgnbd: artifacts.bgnbd, horizonDays: artifacts.definition.horizonDays, baseChurnRate: artifacts.baseChurnRate };

  function features(history: CustomerHistory, nowMs: number): ChurnFeatures {
    const f = churnFeatures(history, nowMs, population);
    if (index) f.values.neighbour_churn_rate = index.rate(neighbourVector(f.values));
    return f;
  }

  return {
    version: artifacts.version,
    score(history: CustomerHistory, nowMs: number): ChurnPrediction {
      const f = features(history, nowMs);
      return artifacts.model ? predictChurn(artifacts.model, f, nowMs) : bgnbdPrediction(artifacts, f, nowMs);
    },
  };
}

// Features whose value above the population median raises risk, and the sign for "below".
const FALLBACK_DRIVERS: Partial<Record<FeatureName, 1 | -1>> = {
  recency_days: 1,
  overdue_ratio: 1,
  days_since_last_activity: 1,
  churn_signals: 1,
  cancellations: 1,
  complaints: 1,
  failed_payments: 1,
  downgrades: 1,
  frequency: -1,
  engagement_trend: -1,
  purchases_recent_window: -1,
};

/** BG/NBD's probability of no purchase in the horizon, explained by how far the customer sits from the median. */
function bgnbdPrediction(artifacts: ChurnArtifacts, f: ChurnFeatures, nowMs: number): ChurnPrediction {
  const hasPurchases = f.values.frequency > 0;
  const probability = hasPurchases ? f.values.bgnbd_p_no_purchase : artifacts.baseChurnRate;
  const drivers = (Object.entries(FALLBACK_DRIVERS) as [FeatureName, 1 | -1][])
    .map(([feature, sign]) => {
      const m = artifacts.medians[feature] ?? 0;
      const scale = Math.max(Math.abs(m), 1);
      return { feature, weight: (sign * (f.values[feature] - m)) / scale };
    })
    .filter((d) => Math.abs(d.weight) >= 0.1)
    .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight))
    .slice(0, 5)
    .map(({ feature, weight }) => ({
      reason: weight > 0 ? FEATURE_WORDING[feature].up : FEATURE_WORDING[feature].down,
      feature,
      weight: Math.round(weight * 1000) / 1000,
      evidence: f.evidence[feature],
    }));
  return { probability, riskTier: riskTier(probability), drivers, modelVersion: artifacts.version, computedAt: new Date(nowMs).toISOString() };
}

function median(xs: number[]): number {
  const finite = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return finite.length ? finite[Math.floor(finite.length / 2)]! : 0;
}

const hashParams = (p: BgnbdParams) =>
  Bun.hash(JSON.stringify(p)).toString(16).slice(0, 8);

export const DEFAULT_HORIZON_MS = (d: ChurnDefinition) => d.horizonDays * DAY_MS;
