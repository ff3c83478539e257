import { z } from "zod";
import { fitBgnbd, repeatSummary, type BgnbdParams } from "../../pipelines/bgnbd";
import { churnFeatures, neighbourVector, trendWindowDays, type ChurnFeatures, type CustomerHistory, type FeatureName } from "../../pipelines/churn-features";
import { BGNBD_INPUTS, explainBgnbd } from "./bgnbd-explanation";
import { chooseChurnModel, churnChoiceSchema } from "./churn-choice";
import { calibrationSampleSchema, churnInterval } from "./churn-interval";
import { churnLabel, churnModelSchema, churnProbability, explainModel, type ChurnDefinition } from "./churn-model";
import { neighbourIndex, type NeighbourIndex } from "./churn-neighbours";
import { logit, sigmoid } from "../../pipelines/log-odds";
import { assemblePrediction, type ChurnPrediction, type DriverCandidate } from "./churn-prediction";
import { churnReferenceSchema, fitReference, referenceFor } from "./churn-reference";
import { buildTrainingSet, type Snapshot } from "./churn-training";
import { behaviourReason, signalReason } from "./driver-wording";
import { fitPredictionModel, fittedPredictionModelSchema } from "./prediction-model";
import { activeSignals, fitSignalEffects, isCancelled, priorSignalEffects, signalContribution, signalEffectsSchema, type SignalFitRow } from "./signal-effects";

/** Published BG/NBD parameters of the CDNOW sample: the prior while a population is too small to fit. */
const PRIOR_BGNBD: BgnbdParams = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
const MIN_FIT_CUSTOMERS = 30;
const MIN_REFERENCE_STAYERS = 10;
/** Labelled snapshots a refit trains on, a sixth of the horizon apart (so short horizons get several too). */
const TRAINING_SNAPSHOTS = 6;
const trainingStepDays = (horizonDays: number) => Math.max(1, Math.round(horizonDays / 6));
const MIN_NON_BUYERS = 20;
/** Bumped when the artifacts change shape; older ones are refitted at start. */
export const CHURN_ARTIFACTS_FORMAT = 3;

const definitionSchema = z.object({
  horizonDays: z.number().positive(),
  basis: z.enum(["purchase", "activity"]),
  explicitCancellation: z.boolean(),
});

/** Everything the workers need to score: fitted on the population by the refit job. */
export const churnArtifactsSchema = z.object({
  format: z.literal(CHURN_ARTIFACTS_FORMAT),
  version: z.string(),
  trainedAt: z.string(),
  customers: z.number().int(),
  /** Purchases in the histories it was fitted on. */
  purchases: z.number().int(),
  definition: definitionSchema,
  bgnbd: z.object({ r: z.number(), alpha: z.number(), a: z.number(), b: z.number() }),
  baseChurnRate: z.number(),
  /** Share of customers with no purchase yet who still had none a horizon later (cold start), when enough were seen. */
  nonBuyerChurnRate: z.number().optional(),
  /** Lifecycle vectors and outcomes of the latest labelled snapshot: the neighbour feature. */
  neighbours: z.object({ vectors: z.array(z.array(z.number())), outcomes: z.array(z.number()) }).optional(),
  /** The learned model; absent while there is too little labelled history, or when it lost to BG/NBD (see `note`). */
  model: churnModelSchema.optional(),
  /** How the model was chosen on the tenant's own history, with every candidate's validation figures. */
  choice: churnChoiceSchema.optional(),
  /** Out-of-time predictions and outcomes behind each probability's interval. */
  calibration: calibrationSampleSchema.optional(),
  /** The customer every explanation is measured from. */
  reference: churnReferenceSchema,
  signals: signalEffectsSchema,
  /** Rows of the labelled snapshots it was trained on (0 before any outcome is known). */
  trainingRows: z.number().int(),
  note: z.string().optional(),
  /** Spend, rhythm and corrections behind the behavioural predictions (prediction-model.ts). */
  predictions: fittedPredictionModelSchema.optional(),
});
export type ChurnArtifacts = z.infer<typeof churnArtifactsSchema>;

export function fitChurnArtifacts(histories: readonly CustomerHistory[], nowMs: number, definition: ChurnDefinition): ChurnArtifacts {
  const buyers = histories.filter((h) => h.purchases.some((p) => p.ts < nowMs));
  const summaries = buyers.map((h) => repeatSummary(h.purchases.map((p) => p.ts), nowMs)).filter((s) => s !== null);
  const bgnbd = summaries.length >= MIN_FIT_CUSTOMERS ? fitBgnbd(summaries).params : PRIOR_BGNBD;

  let chosen: ReturnType<typeof chooseChurnModel> = {};
  let neighbours: ChurnArtifacts["neighbours"];
  let baseChurnRate = 0.5;
  let snapshots: Snapshot[] = [];
  let trainingRows = 0;
  try {
    const built = buildTrainingSet(histories, nowMs, definition, { snapshots: TRAINING_SNAPSHOTS, stepDays: trainingStepDays(definition.horizonDays) });
    snapshots = built.snapshots;
    const { rows, latest } = built;
    trainingRows = rows.length;
    baseChurnRate = rows.length ? rows.filter((r) => r.label === 1).length / rows.length : baseChurnRate;
    neighbours = { vectors: latest.rows.map((r) => neighbourVector(r.features.values)), outcomes: latest.rows.map((r) => r.label) };
    chosen = chooseChurnModel(snapshots, definition, nowMs);
  } catch (err) {
    chosen = { note: `no labelled history yet (${(err as Error).message}); scoring with BG/NBD` };
  }
  const { model, note } = chosen;

  const population = { bgnbd, horizonDays: definition.horizonDays, baseChurnRate };
  const stayers = snapshots[0]?.rows.filter((r) => r.label === 0) ?? [];
  const reference =
    stayers.length >= MIN_REFERENCE_STAYERS
      ? fitReference(stayers.map((r) => r.features.values), "stayers")
      : fitReference(buyers.map((h) => churnFeatures(h, nowMs, population).values), "population");

  // Signal effects: estimated on the labelled snapshots against the behavioural score each customer had then.
  const prior = priorSignalEffects(definition.horizonDays, definition.explicitCancellation);
  const fitRows: SignalFitRow[] = snapshots.flatMap((snapshot) =>
    snapshot.rows.map((row) => ({
      label: row.label,
      offset: logit(model ? churnProbability(model, row.features) : row.features.values.bgnbd_p_no_purchase),
      signals: activeSignals(row.history, snapshot.asOfMs, prior),
    })),
  );
  const signals = fitSignalEffects(fitRows, prior);

  const trainedAt = new Date(nowMs).toISOString();
  return {
    format: CHURN_ARTIFACTS_FORMAT,
    version: model?.modelVersion ?? `bgnbd-${trainedAt.slice(0, 10).replaceAll("-", "")}-${hashParams(bgnbd)}`,
    trainedAt,
    customers: histories.length,
    purchases: histories.reduce((s, h) => s + h.purchases.filter((p) => p.ts < nowMs).length, 0),
    definition,
    bgnbd,
    baseChurnRate,
    ...optional("nonBuyerChurnRate", nonBuyerChurnRate(histories, snapshots[0]?.asOfMs, definition)),
    neighbours,
    model,
    ...optional("choice", chosen.choice),
    ...optional("calibration", chosen.calibration),
    reference,
    signals,
    trainingRows,
    note,
    predictions: fitPredictionModel(histories, nowMs, definition.horizonDays, bgnbd),
  };
}

/** Of the customers seen without a purchase at the snapshot, the share who still had none a horizon later. */
function nonBuyerChurnRate(histories: readonly CustomerHistory[], asOfMs: number | undefined, definition: ChurnDefinition): number | undefined {
  if (asOfMs === undefined) return undefined;
  const nonBuyers = histories.filter((h) => h.firstSeenMs < asOfMs && !h.purchases.some((p) => p.ts < asOfMs));
  if (nonBuyers.length < MIN_NON_BUYERS) return undefined;
  return nonBuyers.reduce<number>((s, h) => s + churnLabel(h, asOfMs, definition), 0) / nonBuyers.length;
}

const optional = <K extends string, V>(key: K, value: V | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));

/** A scorer over one set of artifacts: builds the neighbour index once. */
export function churnScorer(artifacts: ChurnArtifacts) {
  const index: NeighbourIndex | undefined = artifacts.neighbours?.vectors.length ? neighbourIndex(artifacts.neighbours) : undefined;
  const { definition } = artifacts;
  const population = { bgnbd: artifacts.bgnbd, horizonDays: definition.horizonDays, baseChurnRate: artifacts.baseChurnRate };

  function features(history: CustomerHistory, nowMs: number): ChurnFeatures {
    const f = churnFeatures(history, nowMs, population);
    if (index) f.values.neighbour_churn_rate = index.rate(neighbourVector(f.values));
    return f;
  }

  return {
    version: artifacts.version,
    /** Churn probability as of `asOfMs` from the history before it, explained; `currency` words the money figures. */
    score(history: CustomerHistory, asOfMs: number, currency?: string): ChurnPrediction {
      const f = features(history, asOfMs);
      const reference = referenceFor(artifacts.reference, f.values);
      const behaviour = behaviourScore(artifacts, f, reference.values);
      const wording = { horizonDays: definition.horizonDays, windowDays: trendWindowDays(definition.horizonDays), currency, referenceLabel: reference.label, values: f.values };
      const candidates: DriverCandidate[] = [...behaviour.contributions].map(([feature, contribution]) => ({
        feature,
        kind: "behaviour",
        value: f.values[feature],
        reference: reference.values[feature],
        contribution,
        evidence: f.evidence[feature],
        reason: () => behaviourReason(feature, f.values[feature], reference.values[feature], wording),
      }));

      const effects = artifacts.signals;
      const cancelled = effects.cancelledFloor !== undefined && isCancelled(history, asOfMs);
      for (const s of activeSignals(history, asOfMs, effects))
        candidates.push({
          feature: SIGNAL_FEATURE[s.kind],
          kind: "signal",
          value: Math.round(s.strength * 1000) / 1000,
          reference: 0,
          contribution: signalContribution(s, effects),
          evidence: s.evidence,
          reason: () => signalReason(s, asOfMs, cancelled && s.kind === "cancellation"),
        });
      if (cancelled) {
        // The latest subscription event is a cancellation: at least the floor, carried by the cancellation itself.
        const z = behaviour.baseLogOdds + candidates.reduce((sum, c) => sum + c.contribution, 0);
        const cancellation = candidates.find((c) => c.feature === SIGNAL_FEATURE.cancellation)!;
        cancellation.contribution += Math.max(0, logit(effects.cancelledFloor!) - z);
      }
      const behaviourLogOdds = behaviour.baseLogOdds + candidates.filter((c) => c.kind === "behaviour").reduce((sum, c) => sum + c.contribution, 0);
      const coldStart = behaviour.mode === "cold_start";
      return assemblePrediction({
        mode: behaviour.mode,
        baseLogOdds: behaviour.baseLogOdds,
        reference: coldStart ? "customers with no purchase yet" : reference.description,
        candidates,
        // The interval of the behavioural probability, moved by what the signals add.
        interval: (p) =>
          churnInterval(coldStart ? undefined : artifacts.calibration, sigmoid(behaviourLogOdds), logit(p) - behaviourLogOdds, {
            rate: coldStart ? (artifacts.nonBuyerChurnRate ?? artifacts.baseChurnRate) : artifacts.baseChurnRate,
            count: coldStart ? (artifacts.nonBuyerChurnRate === undefined ? 0 : MIN_NON_BUYERS) : artifacts.trainingRows,
          }),
        modelVersion: artifacts.version,
        computedAtMs: asOfMs,
      });
    },
  };
}

/** The behavioural part: learned trees, BG/NBD while too little labelled history, or the cold-start rate before a first purchase. */
function behaviourScore(artifacts: ChurnArtifacts, f: ChurnFeatures, reference: Record<FeatureName, number>) {
  if (f.values.frequency === 0)
    return { mode: "cold_start" as const, baseLogOdds: logit(artifacts.nonBuyerChurnRate ?? artifacts.baseChurnRate), contributions: new Map<FeatureName, number>() };
  if (artifacts.model) {
    const e = explainModel(artifacts.model, f, reference);
    return { mode: "learned" as const, baseLogOdds: e.referenceLogOdds, contributions: e.contributions };
  }
  const pick = (v: Record<FeatureName, number>) => Object.fromEntries(BGNBD_INPUTS.map((k) => [k, v[k]])) as Record<(typeof BGNBD_INPUTS)[number], number>;
  const e = explainBgnbd(artifacts.bgnbd, artifacts.definition.horizonDays, pick(f.values), pick(reference));
  return { mode: "bgnbd" as const, baseLogOdds: e.referenceLogOdds, contributions: e.contributions };
}

/** Driver feature names of the signal kinds (the names the strategy playbook keys on). */
const SIGNAL_FEATURE = {
  cancellation: "cancellations",
  downgrade: "downgrades",
  complaint: "complaints",
  failed_payment: "failed_payments",
  refund: "refunds",
  negative_feedback: "negative_feedback",
  unsubscribe: "unsubscribes",
  other: "churn_signals",
} as const;

const hashParams = (p: BgnbdParams) => Bun.hash(JSON.stringify(p)).toString(16).slice(0, 8);
