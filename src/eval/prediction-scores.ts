/**
 * How good the behavioural predictions were: for every customer scored as of the cutoff,
 * expected purchases and spend over the horizon against what they did, beside two baselines
 * fitted in the same run on the same history (plain BG/NBD + Gamma-Gamma, and "the same as
 * the last period of equal length"); the 90 % intervals' coverage; the weekly cumulative
 * repeat-purchase curve; and whether "overdue" customers really bought less. Pure.
 */
import { DAY_MS, expectedPurchases, fitBgnbd, WEEK_MS, type BgnbdParams } from "../../pipelines/bgnbd";
import type { CustomerHistory } from "../../pipelines/churn-features";
import { pointPrediction, type PredictionModel, type Predictions } from "../../pipelines/customer-predictions";
import { customerState, outcomeAfter } from "../../pipelines/prediction-features";
import { countQuantile } from "../../pipelines/predictive-interval";
import { purchaseCountPmf } from "../../pipelines/purchase-distribution";
import { PRIOR_RHYTHM } from "../../pipelines/purchase-rhythm";
import { fitSpendModel } from "../inference/prediction-model";

export type ErrorFigures = { mae: number; bias: number };
export type PredictionMethodResult = { name: string; label: string; purchases: ErrorFigures; spend: ErrorFigures };

export type PredictionScores = {
  customers: number;
  horizonDays: number;
  /** Mean per customer of what they did in the horizon. */
  actual: { purchases: number; spend: number };
  methods: PredictionMethodResult[];
  /** Share of customers whose outcome fell inside Lifeline's 90 % interval. */
  coverage: { level: number; purchases: number; spend: number };
  /** Cumulative repeat purchases (all customers) by the end of each week after the cutoff; the last point is the horizon. */
  curve: { days: number[]; actual: number[]; lifeline: number[]; bgnbdGg: number[]; lastPeriod: number[] };
  /** Lifeline's predicted total at the horizon ÷ the actual total. */
  curveRatioAtHorizon: number;
  nextPurchase: {
    overdue: { customers: number; boughtInHorizon: number };
    notOverdue: { customers: number; boughtInHorizon: number };
    /** Of those whose interval ends within the horizon and who ordered again by then, the share whose next order fell inside it. */
    intervalCoverage: { customers: number; share: number };
  };
  /** Why MAE has a floor: what plain BG/NBD would score if it were exactly right, and with its predictive median instead of its mean. */
  diagnostics: { bgnbdImpliedMae: number; bgnbdMedian: ErrorFigures };
  targets: {
    purchasesMaeVsPlain: number;
    spendMaeVsPlain: number;
    /** ≥ 5 % below plain BG/NBD + Gamma-Gamma and no worse than the same as last period. */
    purchasesMet: boolean;
    /** False as well when the data set has no amounts. */
    spendMet: boolean;
    curveMet: boolean;
    coverageMet: boolean;
  };
  plain: { bgnbd: BgnbdParams; spend: PredictionModel["spend"] };
};

export type PredictionEvalInput = {
  /** Whole histories (the future included), of the customers scored. */
  histories: readonly CustomerHistory[];
  cutoffMs: number;
  horizonDays: number;
  /** Lifeline's predictions as served, per customer id of `histories`. */
  predictionsOf: (customerId: string) => Predictions | undefined;
  /** Lifeline's fitted model, to draw its weekly curve. */
  lifeline: { bgnbd: BgnbdParams; model: PredictionModel };
};

const TARGET_GAIN = 0.05;

export function scorePredictions(input: PredictionEvalInput): PredictionScores {
  const { cutoffMs, horizonDays } = input;
  const scored = input.histories.filter((h) => input.predictionsOf(h.customerId) && h.purchases.some((p) => p.ts < cutoffMs));
  const before = scored.map((h) => ({ ...h, purchases: h.purchases.filter((p) => p.ts < cutoffMs), events: h.events.filter((e) => e.ts < cutoffMs) }));
  const states = before.map((h) => customerState(h, cutoffMs, horizonDays));
  const actual = scored.map((h) => outcomeAfter(h, cutoffMs, horizonDays));
  const served = scored.map((h) => input.predictionsOf(h.customerId)!);

  const plainBgnbd = fitBgnbd(states.map((s) => s.repeat!)).params;
  const plain: PredictionModel = { horizonDays, spend: fitSpendModel(states), rhythm: PRIOR_RHYTHM, corrections: {}, valuePercentiles: [] };
  const plainPoints = states.map((s) => pointPrediction(plainBgnbd, plain, s));

  // A data set without amounts (every order 0) has no spend to predict: its spend figures are n/a.
  const hasSpend = states.some((s) => s.daySpend.some((v) => v > 0));
  const errors = (predicted: (i: number) => number, target: "purchases" | "spend"): ErrorFigures => {
    let abs = 0;
    let signed = 0;
    for (let i = 0; i < scored.length; i++) {
      const d = predicted(i) - actual[i]![target];
      abs += Math.abs(d);
      signed += d;
    }
    if (target === "spend" && !hasSpend) return { mae: Number.NaN, bias: Number.NaN };
    return { mae: abs / scored.length, bias: signed / scored.length };
  };
  const method = (name: string, label: string, purchases: (i: number) => number, spend: (i: number) => number): PredictionMethodResult => ({
    name,
    label,
    purchases: errors(purchases, "purchases"),
    spend: errors(spend, "spend"),
  });
  const methods = [
    method("lifeline", "Lifeline", (i) => served[i]!.expectedPurchases.value, (i) => served[i]!.value.amount),
    method("bgnbd-gg", "Plain BG/NBD + Gamma-Gamma", (i) => plainPoints[i]!.plainPurchases, (i) => plainPoints[i]!.plainSpend),
    method("last-period", "Same as the last period", (i) => states[i]!.lastPeriod.purchases, (i) => states[i]!.lastPeriod.spend),
  ];

  const inside = (v: number, iv: { low: number; high: number }) => v >= iv.low - 1e-9 && v <= iv.high + 1e-9;
  const share = (n: number) => (scored.length ? n / scored.length : Number.NaN);
  const coverage = {
    level: 0.9,
    purchases: share(served.filter((p, i) => inside(actual[i]!.purchases, p.expectedPurchases.interval)).length),
    spend: hasSpend ? share(served.filter((p, i) => inside(actual[i]!.spend, p.value.interval)).length) : Number.NaN,
  };

  const curve = repeatCurve(scored, states, cutoffMs, horizonDays, input.lifeline, plainBgnbd);
  const diagnostics = bgnbdDiagnostics(plainBgnbd, states, actual, horizonDays);
  const [lifeline, bgGg, last] = methods as [PredictionMethodResult, PredictionMethodResult, PredictionMethodResult];
  const met = (t: "purchases" | "spend") => lifeline[t].mae <= (1 - TARGET_GAIN) * bgGg[t].mae && lifeline[t].mae <= last[t].mae;
  const covered = (c: number) => Number.isNaN(c) || (c >= 0.85 && c <= 0.95);
  const curveRatioAtHorizon = curve.lifeline.at(-1)! / curve.actual.at(-1)!;
  return {
    customers: scored.length,
    horizonDays,
    actual: { purchases: mean(actual.map((a) => a.purchases)), spend: mean(actual.map((a) => a.spend)) },
    methods,
    coverage,
    curve,
    curveRatioAtHorizon,
    nextPurchase: nextPurchaseScores(served, scored, cutoffMs, horizonDays, actual),
    diagnostics,
    targets: {
      purchasesMaeVsPlain: lifeline.purchases.mae / bgGg.purchases.mae,
      spendMaeVsPlain: lifeline.spend.mae / bgGg.spend.mae,
      purchasesMet: met("purchases"),
      spendMet: met("spend"),
      curveMet: Math.abs(curveRatioAtHorizon - 1) <= 0.05,
      coverageMet: covered(coverage.purchases) && covered(coverage.spend),
    },
    plain: { bgnbd: plainBgnbd, spend: plain.spend },
  };
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

/** End of each week after the cutoff (days), the horizon itself last. */
export function curveDays(horizonDays: number): number[] {
  const days: number[] = [];
  for (let d = 7; d < horizonDays; d += 7) days.push(d);
  days.push(horizonDays);
  return days;
}

function repeatCurve(
  scored: readonly CustomerHistory[],
  states: ReturnType<typeof customerState>[],
  cutoffMs: number,
  horizonDays: number,
  lifeline: PredictionEvalInput["lifeline"],
  plainBgnbd: BgnbdParams,
): PredictionScores["curve"] {
  const days = curveDays(horizonDays);
  const cumulative = (predict: (i: number, d: number) => number) => days.map((d) => scored.reduce((s, _, i) => s + predict(i, d), 0));
  const expected = (p: BgnbdParams, i: number, d: number) => {
    const r = states[i]!.repeat!;
    return expectedPurchases(p, (d * DAY_MS) / WEEK_MS, r.x, r.tx, r.T);
  };
  // Lifeline's curve: BG/NBD's shape over the weeks, at the level of its (corrected) horizon figure.
  const factor = states.map((s) => {
    const point = pointPrediction(lifeline.bgnbd, lifeline.model, s);
    return point.plainPurchases > 0 ? point.purchases / point.plainPurchases : 1;
  });
  return {
    days,
    actual: cumulative((i, d) => outcomeAfter(scored[i]!, cutoffMs, d).purchases),
    lifeline: cumulative((i, d) => expected(lifeline.bgnbd, i, d) * factor[i]!),
    bgnbdGg: cumulative((i, d) => expected(plainBgnbd, i, d)),
    lastPeriod: cumulative((i, d) => outcomeAfter(scored[i]!, cutoffMs - horizonDays * DAY_MS, d).purchases),
  };
}

function bgnbdDiagnostics(p: BgnbdParams, states: ReturnType<typeof customerState>[], actual: { purchases: number }[], horizonDays: number) {
  const weeks = (horizonDays * DAY_MS) / WEEK_MS;
  let implied = 0;
  let abs = 0;
  let signed = 0;
  states.forEach((s, i) => {
    const r = s.repeat!;
    const pmf = purchaseCountPmf(p, weeks, r.x, r.tx, r.T);
    const m = pmf.reduce((a, q, n) => a + q * n, 0);
    implied += pmf.reduce((a, q, n) => a + q * Math.abs(n - m), 0);
    const median = countQuantile(pmf, 0.5);
    abs += Math.abs(median - actual[i]!.purchases);
    signed += median - actual[i]!.purchases;
  });
  const n = states.length || 1;
  return { bgnbdImpliedMae: implied / n, bgnbdMedian: { mae: abs / n, bias: signed / n } };
}

function nextPurchaseScores(
  served: readonly Predictions[],
  scored: readonly CustomerHistory[],
  cutoffMs: number,
  horizonDays: number,
  actual: readonly { purchases: number }[],
): PredictionScores["nextPurchase"] {
  const group = (overdue: boolean) => {
    const idx = served.map((p, i) => (p.nextPurchase.overdue === overdue ? i : -1)).filter((i) => i >= 0);
    return { customers: idx.length, boughtInHorizon: idx.length ? idx.filter((i) => actual[i]!.purchases > 0).length / idx.length : Number.NaN };
  };
  const endMs = cutoffMs + horizonDays * DAY_MS;
  let customers = 0;
  let hits = 0;
  served.forEach((p, i) => {
    const toMs = Date.parse(p.nextPurchase.interval.to) + DAY_MS;
    if (toMs > endMs) return;
    const next = scored[i]!.purchases.filter((q) => q.ts >= cutoffMs && q.ts < endMs).sort((a, b) => a.ts - b.ts)[0];
    if (!next) return;
    customers++;
    if (next.ts >= Date.parse(p.nextPurchase.interval.from) && next.ts < toMs) hits++;
  });
  return { overdue: group(true), notOverdue: group(false), intervalCoverage: { customers, share: customers ? hits / customers : Number.NaN } };
}
