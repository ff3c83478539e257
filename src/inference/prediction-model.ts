/**
 * Fits the population model behind the behavioural predictions (pipelines/customer-predictions.ts)
 * at refit, from the histories as of `nowMs` only: Gamma-Gamma spend per order, the buying
 * rhythm, what customers without a purchase went on to do, and the corrections.
 *
 * Corrections are chosen on a back-test, never on the future: the models are refitted as of
 * snapshots one horizon (and more) before now, whose outcomes are known by now. Candidate
 * corrections (a Poisson regression on the model's expectation and a few facts of the
 * history, or a blend with "the same as the last period") are judged the way they will be
 * used: fitted on the snapshots at least one horizon older than the newest snapshot and
 * compared with the plain model by mean absolute error on the newest. A correction is kept
 * only when it beats the plain model there by at least 1 %; it is then refitted on every
 * snapshot. Purchases are chosen first, then spend given the chosen purchases. (A split by
 * customer within the same snapshots was tried first: on CDNOW, a single cohort acquired in
 * one quarter, it chose corrections learned on months-old customers that were 40 % worse a
 * year on.)
 */
import { z } from "zod";
import { DAY_MS, fitBgnbd, type BgnbdParams } from "../../pipelines/bgnbd";
import type { CustomerHistory } from "../../pipelines/churn-features";
import { applyCorrection, pointPrediction, predictionModelSchema, type Correction, type PredictionModel } from "../../pipelines/customer-predictions";
import { fitGammaGamma } from "../../pipelines/gamma-gamma";
import { fitPoisson } from "../../pipelines/poisson-regression";
import { correctionFeatures, customerState, outcomeAfter, type CorrectionFeature, type CustomerState } from "../../pipelines/prediction-features";
import { empiricalInterval } from "../../pipelines/predictive-interval";
import { fitRhythm, nextGapDistribution } from "../../pipelines/purchase-rhythm";

const MIN_SPEND_CUSTOMERS = 30;
const MIN_SNAPSHOT_CUSTOMERS = 30;
const MIN_BACKTEST_ROWS = 200;
const MIN_NON_BUYERS = 20;
const BACKTEST_SNAPSHOTS = 4;
const MIN_GAIN = 0.01;
/** Spend prior while too few customers have a repeat order: shape 2 per order, customers' scales spread as Gamma(5). */
const PRIOR_SPEND = { p: 2, q: 5 };

const POISSON_CANDIDATES: Record<string, readonly CorrectionFeature[]> = {
  recent: ["log_last_period", "log_previous_period"],
  rfm: ["log_last_period", "log_previous_period", "p_alive", "log_recency_days", "log_repeat_purchases"],
  full: ["log_model_expectation", "log_last_period", "log_previous_period", "p_alive", "log_recency_days", "log_repeat_purchases", "log_mean_spend", "rhythm_overdue", "log_age_days"],
};
const BLEND_WEIGHTS = [0.25, 0.5, 0.75];

const backtestSchema = z.object({
  snapshots: z.array(z.string()),
  rows: z.number().int(),
  /** Validation mean absolute error of every candidate; `chosen` marks the one kept. */
  candidates: z.array(z.object({ target: z.enum(["purchases", "spend"]), name: z.string(), mae: z.number(), chosen: z.boolean() })),
  note: z.string().optional(),
});

export const fittedPredictionModelSchema = predictionModelSchema.extend({ backtest: backtestSchema });
export type FittedPredictionModel = z.infer<typeof fittedPredictionModelSchema>;

export function fitPredictionModel(histories: readonly CustomerHistory[], nowMs: number, horizonDays: number, bgnbd: BgnbdParams): FittedPredictionModel {
  const states = buyersAsOf(histories, nowMs).map((h) => customerState(h, nowMs, horizonDays));
  const uncorrected: PredictionModel = {
    horizonDays,
    spend: fitSpendModel(states),
    rhythm: fitRhythm(states.map((s) => s.gaps)),
    corrections: {},
    valuePercentiles: [],
  };
  const { corrections, backtest } = chooseCorrections(histories, nowMs, horizonDays, bgnbd);
  const model: PredictionModel = { ...uncorrected, corrections, ...optional("nonBuyers", nonBuyerOutcomes(histories, nowMs, horizonDays)) };
  // A history too short for the formulas (every purchase within moments) predicts no number.
  const values = states.map((s) => pointPrediction(bgnbd, model, s).spend).filter(Number.isFinite).sort((a, b) => a - b);
  model.valuePercentiles = values.length ? Array.from({ length: 101 }, (_, k) => values[Math.min(values.length - 1, Math.floor((k / 100) * values.length))]!) : [];
  return { ...model, backtest };
}

const buyersAsOf = (histories: readonly CustomerHistory[], asOfMs: number) => histories.filter((h) => h.purchases.some((p) => p.ts < asOfMs));

const optional = <K extends string, V>(key: K, value: V | undefined) => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));

/** Gamma-Gamma on the repeat customers; a prior centred on the mean order value while they are few; null before any spend. */
export function fitSpendModel(states: readonly CustomerState[]): PredictionModel["spend"] {
  const repeaters = states.filter((s) => s.spend.x >= 1 && s.spend.mean > 0).map((s) => s.spend);
  if (repeaters.length >= MIN_SPEND_CUSTOMERS) {
    const fit = fitGammaGamma(repeaters);
    // q ≤ 1 means an infinite population mean order value: no basis for an expectation.
    if (fit.params.q > 1.05) return { ...fit.params, customers: fit.customers, source: "fitted" };
  }
  const orders = states.flatMap((s) => s.daySpend).filter((v) => v > 0);
  if (orders.length === 0) return null;
  const mean = orders.reduce((a, v) => a + v, 0) / orders.length;
  return { ...PRIOR_SPEND, gamma: ((PRIOR_SPEND.q - 1) * mean) / PRIOR_SPEND.p, customers: repeaters.length, source: "prior" };
}

/** Of the customers seen without a purchase one horizon ago, what they did since. */
function nonBuyerOutcomes(histories: readonly CustomerHistory[], nowMs: number, horizonDays: number): PredictionModel["nonBuyers"] {
  const fromMs = nowMs - horizonDays * DAY_MS;
  const seen = histories.filter((h) => h.firstSeenMs < fromMs && !h.purchases.some((p) => p.ts < fromMs));
  if (seen.length < MIN_NON_BUYERS) return undefined;
  const outcomes = seen.map((h) => outcomeAfter(h, fromMs, horizonDays));
  const summarise = (values: number[]) => ({ mean: values.reduce((a, v) => a + v, 0) / values.length, ...empiricalInterval(values) });
  return {
    customers: seen.length,
    purchases: summarise(outcomes.map((o) => o.purchases)),
    spend: summarise(outcomes.map((o) => o.spend)),
    pAnyPurchase: outcomes.filter((o) => o.purchases > 0).length / outcomes.length,
  };
}

type BacktestRow = {
  customerId: string;
  asOfMs: number;
  state: CustomerState;
  plainPurchases: number;
  orderValue: number;
  pAlive: number;
  rhythmLocation: number;
  actual: { purchases: number; spend: number };
};

/** Model-refitted snapshots one horizon (and more) back, each customer with what they then did. */
function backtestRows(histories: readonly CustomerHistory[], nowMs: number, horizonDays: number, start: BgnbdParams) {
  const stepDays = Math.max(7, Math.round(horizonDays / 2));
  const rows: BacktestRow[] = [];
  const snapshots: string[] = [];
  let warm = start;
  for (let k = 0; k < BACKTEST_SNAPSHOTS; k++) {
    const asOfMs = nowMs - (horizonDays + k * stepDays) * DAY_MS;
    const buyers = buyersAsOf(histories, asOfMs);
    if (buyers.length < MIN_SNAPSHOT_CUSTOMERS) break;
    const states = buyers.map((h) => customerState(h, asOfMs, horizonDays));
    const bgnbd = fitBgnbd(states.map((s) => s.repeat!), { starts: [[warm.r, warm.alpha, warm.a, warm.b].map((v) => Math.log(Math.max(v, 1e-8)))] }).params;
    warm = bgnbd;
    const model: PredictionModel = { horizonDays, spend: fitSpendModel(states), rhythm: fitRhythm(states.map((s) => s.gaps)), corrections: {}, valuePercentiles: [] };
    states.forEach((state, i) => {
      const point = pointPrediction(bgnbd, model, state);
      rows.push({
        customerId: buyers[i]!.customerId,
        asOfMs,
        state,
        plainPurchases: point.plainPurchases,
        orderValue: point.orderValue,
        pAlive: point.pAlive,
        rhythmLocation: nextGapDistribution(model.rhythm, state.gaps).location,
        actual: outcomeAfter(buyers[i]!, asOfMs, horizonDays),
      });
    });
    snapshots.push(new Date(asOfMs).toISOString());
  }
  return { rows, snapshots };
}

type Target = "purchases" | "spend";
type Candidate = { name: string; correction?: Correction };

function chooseCorrections(histories: readonly CustomerHistory[], nowMs: number, horizonDays: number, bgnbd: BgnbdParams) {
  const { rows, snapshots } = backtestRows(histories, nowMs, horizonDays, bgnbd);
  // Judged as it will be used: in use a correction is fitted on snapshots at least one horizon
  // before the moment it predicts from, so here it is fitted on the snapshots at least one
  // horizon before the newest one and judged on the newest.
  const newestMs = Date.parse(snapshots[0] ?? "");
  const held = rows.filter((r) => r.asOfMs === newestMs);
  const fit = rows.filter((r) => r.asOfMs <= newestMs - horizonDays * DAY_MS);
  const candidates: z.infer<typeof backtestSchema>["candidates"] = [];
  const corrections: PredictionModel["corrections"] = {};
  if (fit.length < MIN_BACKTEST_ROWS || held.length < MIN_SNAPSHOT_CUSTOMERS)
    return { corrections, backtest: { snapshots, rows: rows.length, candidates, note: `too little history for a back-test one horizon ahead (${fit.length} rows to fit, ${held.length} to judge); plain models` } };

  // What each target's correction starts from: BG/NBD's purchases; spend = the chosen purchases × expected order value.
  const expectation = new Map<BacktestRow, number>(rows.map((r) => [r, r.plainPurchases]));
  for (const target of ["purchases", "spend"] as const) {
    if (target === "spend") for (const r of rows) expectation.set(r, correct(corrections.purchases, r, "purchases", r.plainPurchases) * r.orderValue);
    const base = (r: BacktestRow) => expectation.get(r)!;
    const tried: Candidate[] = [
      { name: "plain" },
      ...BLEND_WEIGHTS.map((w) => ({ name: `blend ${w} with last period`, correction: { kind: "blend" as const, name: "", modelWeight: w } })),
      ...Object.entries(POISSON_CANDIDATES).map(([name, features]) => ({ name: `poisson correction (${name})`, correction: fitCorrection(fit, target, base, features) })),
    ];
    const scored = tried.map((c) => ({ ...c, mae: mae(held, (r) => correct(c.correction, r, target, base(r)), (r) => r.actual[target]) }));
    // A correction has to earn its place: at least MIN_GAIN below the plain model.
    const plainMae = scored[0]!.mae;
    const best = scored.reduce((a, b) => (b.mae < a.mae && b.mae <= (1 - MIN_GAIN) * plainMae ? b : a));
    for (const c of scored) candidates.push({ target, name: c.name, mae: c.mae, chosen: c === best });
    if (!best.correction) continue;
    const refitted = best.correction.kind === "poisson" ? fitCorrection(rows, target, base, best.correction.features) : best.correction;
    corrections[target] = { ...refitted, name: `${target === "purchases" ? "bgnbd" : "gamma-gamma"} + ${best.name}` };
  }
  return { corrections, backtest: { snapshots, rows: rows.length, candidates } };
}

const viewOf = (r: BacktestRow, target: Target, expectation: number) => ({ expectation, pAlive: r.pAlive, rhythmLocation: r.rhythmLocation, target });
const correct = (c: Correction | undefined, r: BacktestRow, target: Target, expectation: number) => applyCorrection(c, r.state, viewOf(r, target, expectation));

function fitCorrection(rows: readonly BacktestRow[], target: Target, base: (r: BacktestRow) => number, features: readonly CorrectionFeature[]): Correction {
  const x = rows.map((r) => {
    const f = correctionFeatures(r.state, viewOf(r, target, base(r)));
    return features.map((n) => f[n]);
  });
  const offset = rows.map((r) => Math.log(base(r) + 1e-3));
  const m = fitPoisson(x, rows.map((r) => r.actual[target]), offset, { l2: 1e-3 });
  return { kind: "poisson", name: "", features: [...features], intercept: m.intercept, coefficients: m.coefficients };
}

function mae(rows: readonly BacktestRow[], predict: (r: BacktestRow) => number, actual: (r: BacktestRow) => number): number {
  let sum = 0;
  for (const r of rows) sum += Math.abs(predict(r) - actual(r));
  return sum / rows.length;
}
