/**
 * The churn answer and how its drivers are assembled. The explanation is additive in log-odds:
 *
 *   logit(probability) = logit(explanation.baseProbability) + Σ drivers[].contribution
 *                        + Σ protective[].contribution + explanation.otherContribution
 *
 * where the base is the behavioural model's probability for the reference customer (see
 * churn-reference.ts), drivers raise the risk (contribution > 0), protective factors lower it,
 * and `otherContribution` sums the behaviour features too small to list. Pure.
 */
import { z } from "zod";
import type { Evidence } from "../../pipelines/churn-features";
import { sigmoid } from "../../pipelines/log-odds";
import { churnIntervalSchema, type ChurnInterval } from "./churn-interval";

export const riskTierSchema = z.enum(["low", "medium", "high"]);
export type RiskTier = z.infer<typeof riskTierSchema>;
export const riskTier = (probability: number): RiskTier => (probability < 0.5 ? "low" : probability < 0.75 ? "medium" : "high");

const evidenceSchema = z.object({ messageId: z.string(), ts: z.number(), type: z.string(), name: z.string() });

export const churnDriverSchema = z.object({
  /** A behaviour feature (`recency_days`…) or a signal (`cancellations`, `complaints`, `failed_payments`…). */
  feature: z.string(),
  kind: z.enum(["behaviour", "signal"]),
  /** Made from `value` and `reference`: "1 order in 11 days as a customer; customers who stay have 3 by then". */
  reason: z.string(),
  /** The customer's value (a signal's: its weight, 1 when it just happened, halving every half-life). */
  value: z.number(),
  /** What the value is compared with (a signal's: 0, no such signal). */
  reference: z.number(),
  /** Signed log-odds this driver adds to the probability. */
  contribution: z.number(),
  evidence: z.array(evidenceSchema),
});
export type ChurnDriver = z.infer<typeof churnDriverSchema>;

export const churnModeSchema = z.enum(["learned", "bgnbd", "cold_start"]);

export const churnPredictionSchema = z.object({
  probability: z.number(),
  /** Where the churn rate of customers scored like this one lies, at `level` (see churn-interval.ts). */
  interval: churnIntervalSchema,
  riskTier: riskTierSchema,
  /** `learned`: trees on the tenant's labelled history; `bgnbd`: too little labelled history yet; `cold_start`: no purchase yet. */
  mode: churnModeSchema,
  explanation: z.object({
    scale: z.literal("log-odds"),
    /** The behavioural model's probability for the reference customer. */
    baseProbability: z.number(),
    /** Who the reference is. */
    reference: z.string(),
    /** Σ of the behaviour contributions too small to list. */
    otherContribution: z.number(),
  }),
  /** What raises the risk, largest first. */
  drivers: z.array(churnDriverSchema),
  /** What lowers it, largest first. */
  protective: z.array(churnDriverSchema),
  modelVersion: z.string(),
  computedAt: z.string(),
});
export type ChurnPrediction = z.infer<typeof churnPredictionSchema>;

export type DriverCandidate = Omit<ChurnDriver, "reason"> & { reason: () => string };

const MAX_LISTED = 5;
/** Contributions smaller than this (log-odds) are not listed but summed in `otherContribution`. */
const MIN_LISTED = 0.02;

const round3 = (v: number) => Math.round(v * 1000) / 1000;

/** Splits the candidates into listed drivers and protective factors; the rest goes to `otherContribution`. Signals are always listed. */
export function assemblePrediction(input: {
  mode: ChurnPrediction["mode"];
  baseLogOdds: number;
  reference: string;
  candidates: DriverCandidate[];
  /** The interval of the probability, given the probability. */
  interval: (probability: number) => ChurnInterval;
  modelVersion: string;
  computedAtMs: number;
}): ChurnPrediction {
  const z = input.baseLogOdds + input.candidates.reduce((s, c) => s + c.contribution, 0);
  const listed = (sign: 1 | -1) =>
    input.candidates
      .filter((c) => sign * c.contribution > 0 && (c.kind === "signal" || Math.abs(c.contribution) >= MIN_LISTED))
      .sort((a, b) => Number(b.kind === "signal") - Number(a.kind === "signal") || sign * (b.contribution - a.contribution))
      .filter((c, i) => c.kind === "signal" || i < MAX_LISTED);
  const raising = listed(1);
  const lowering = listed(-1);
  const shown = new Set([...raising, ...lowering]);
  const other = input.candidates.filter((c) => !shown.has(c)).reduce((s, c) => s + c.contribution, 0);
  const finish = (c: DriverCandidate): ChurnDriver => ({
    feature: c.feature,
    kind: c.kind,
    reason: c.reason(),
    value: c.value,
    reference: c.reference,
    contribution: round3(c.contribution),
    evidence: c.evidence,
  });
  const probability = sigmoid(z);
  return {
    probability,
    interval: input.interval(probability),
    riskTier: riskTier(probability),
    mode: input.mode,
    explanation: { scale: "log-odds", baseProbability: sigmoid(input.baseLogOdds), reference: input.reference, otherContribution: round3(other) },
    drivers: raising.map(finish),
    protective: lowering.map(finish),
    modelVersion: input.modelVersion,
    computedAt: new Date(input.computedAtMs).toISOString(),
  };
}

export type { Evidence };
