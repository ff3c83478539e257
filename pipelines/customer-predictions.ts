/**
 * Behavioural predictions for one customer as of an instant: purchases expected in the
 * horizon, when the next order is due, what the customer will spend, and P(alive), each with
 * a 90 % interval (predictive-interval.ts). Pure: the fitted population model comes in.
 *
 * Purchases: BG/NBD's predictive distribution (purchase-distribution.ts). Spend per order:
 * Gamma-Gamma. Either may carry a correction chosen at refit on a back-test (see
 * src/inference/prediction-model.ts); a corrected purchase mean is carried into the
 * distribution by rescaling the customer's purchase rate, a corrected spend by rescaling the
 * amounts, so the intervals stay consistent with the values. Customers with one order or none
 * get population-level figures (`basis: "population"`).
 */
import { z } from "zod";
import { DAY_MS, expectedPurchases, pAlive, WEEK_MS, type BgnbdParams, type RepeatSummary } from "./bgnbd.ts";
import type { CustomerHistory } from "./churn-features.ts";
import { expectedSpend, horizonSpendCdf, type GammaGammaParams } from "./gamma-gamma.ts";
import { predictPoisson } from "./poisson-regression.ts";
import { correctionFeatures, CORRECTION_FEATURES, customerState, daysSinceLastPurchase, type CustomerState } from "./prediction-features.ts";
import { continuousQuantile, countInterval, INTERVAL_LEVEL, predictiveInterval } from "./predictive-interval.ts";
import { purchaseCountPmf } from "./purchase-distribution.ts";
import { gapQuantile, gapQuantileAfterWaiting, nextGapDistribution, rhythmParamsSchema } from "./purchase-rhythm.ts";

export const correctionSchema = z.discriminatedUnion("kind", [
  /** Poisson regression on the model's own expectation (as an offset) and the named features. */
  z.object({ kind: z.literal("poisson"), name: z.string(), features: z.array(z.enum(CORRECTION_FEATURES)), intercept: z.number(), coefficients: z.array(z.number()) }),
  /** modelWeight × the model + (1 − modelWeight) × the same as the last period of equal length. */
  z.object({ kind: z.literal("blend"), name: z.string(), modelWeight: z.number().min(0).max(1) }),
]);
export type Correction = z.infer<typeof correctionSchema>;

const outcomeSchema = z.object({ mean: z.number(), low: z.number(), high: z.number() });

/** The population model behind every customer's predictions, fitted at refit (src/inference/prediction-model.ts). */
export const predictionModelSchema = z.object({
  horizonDays: z.number().positive(),
  /** Gamma-Gamma spend per order; `prior` while too few customers have a repeat order; null while nobody has spent. */
  spend: z.object({ p: z.number(), q: z.number(), gamma: z.number(), customers: z.number().int(), source: z.enum(["fitted", "prior"]) }).nullable(),
  rhythm: rhythmParamsSchema,
  /** Chosen on the back-test; absent: the plain model won. */
  corrections: z.object({ purchases: correctionSchema.optional(), spend: correctionSchema.optional() }),
  /** What customers with no purchase yet went on to do over one horizon (absent: too few seen). */
  nonBuyers: z.object({ customers: z.number().int(), purchases: outcomeSchema, spend: outcomeSchema, pAnyPurchase: z.number() }).optional(),
  /** Predicted value over the horizon at the 0th, 1st, …, 100th percentile of current customers. */
  valuePercentiles: z.array(z.number()),
});
export type PredictionModel = z.infer<typeof predictionModelSchema>;

const intervalSchema = z.object({ low: z.number(), high: z.number() }).describe(`${INTERVAL_LEVEL * 100} % predictive interval`);

/** The `predictions` of an insight (documented in the OpenAPI schema). */
export const predictionsSchema = z
  .object({
    horizonDays: z.number().describe("the horizon of every figure below, in days from asOf"),
    basis: z
      .enum(["customer", "population"])
      .describe("customer: from the customer's own orders; population: one order or none, so mostly what comparable customers did"),
    pAlive: z.number().describe("BG/NBD probability the customer has not dropped out; 1 until a second order (drop-out follows an order in the model)"),
    expectedPurchases: z
      .object({
        horizonDays: z.number(),
        value: z.number().describe("expected number of purchase days in the horizon (orders on one day count once)"),
        interval: intervalSchema,
      })
      .describe("how many purchases to expect"),
    nextPurchase: z
      .object({
        likelyBy: z.string().describe("date by which, at the customer's usual rhythm, 90 % of their next orders would have come"),
        interval: z.object({ from: z.string(), to: z.string() }).describe("90 % interval of the next order's date if they keep buying, given no order so far"),
        overdue: z.boolean().describe("asOf is past likelyBy with no order"),
        typicalGapDays: z.number().describe("their usual days between orders (population's before a second order)"),
        pWithinHorizon: z.number().describe("probability of at least one order within the horizon"),
      })
      .describe("when the next order is due"),
    value: z
      .object({
        horizonDays: z.number(),
        amount: z.number().describe("expected spend in the horizon (expected purchases × expected order value)"),
        currency: z.string().nullable().describe("the currency of the customer's latest purchase; amounts are not converted"),
        interval: intervalSchema,
        expectedOrderValue: z.number(),
        percentile: z.number().describe("share of current customers (0–100) predicted to be worth less over the horizon"),
      })
      .describe("what the customer is expected to be worth"),
    model: z.object({ purchases: z.string(), spend: z.string() }).describe("which models made the figures"),
  })
  .describe("behavioural predictions over the horizon");
export type Predictions = z.infer<typeof predictionsSchema>;

const round = (v: number, digits: number) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : 0);
const money = (v: number) => round(v, 2);
const isoDay = (ms: number) => new Date(Math.min(ms, 8.64e15)).toISOString().slice(0, 10);

/** The model's horizon figures for one customer before intervals: what the eval and the insight share. */
export type PointPrediction = {
  state: CustomerState;
  purchases: number;
  plainPurchases: number;
  orderValue: number;
  spend: number;
  plainSpend: number;
  pAlive: number;
};

/** Expected purchases and spend over the model's horizon, plain and corrected as chosen. */
export function pointPrediction(bgnbd: BgnbdParams, model: PredictionModel, state: CustomerState): PointPrediction {
  const r = state.repeat ?? { x: 0, tx: 0, T: 0 };
  const weeks = (model.horizonDays * DAY_MS) / WEEK_MS;
  const plainPurchases = expectedPurchases(bgnbd, weeks, r.x, r.tx, r.T);
  const alive = pAlive(bgnbd, r.x, r.tx, r.T);
  const orderValue = model.spend ? expectedSpend(model.spend, state.spend) : 0;
  const location = nextGapDistribution(model.rhythm, state.gaps).location;
  const purchases = applyCorrection(model.corrections.purchases, state, { expectation: plainPurchases, pAlive: alive, rhythmLocation: location, target: "purchases" });
  const plainSpend = plainPurchases * orderValue;
  const spend = applyCorrection(model.corrections.spend, state, { expectation: purchases * orderValue, pAlive: alive, rhythmLocation: location, target: "spend" });
  return { state, purchases, plainPurchases, orderValue, spend, plainSpend, pAlive: alive };
}

/** A correction applied to the model's expectation for one customer. */
export function applyCorrection(c: Correction | undefined, s: CustomerState, view: Parameters<typeof correctionFeatures>[1]): number {
  if (!c) return view.expectation;
  const last = view.target === "spend" ? s.lastPeriod.spend : s.lastPeriod.purchases;
  if (c.kind === "blend") return c.modelWeight * view.expectation + (1 - c.modelWeight) * Math.max(0, last);
  const f = correctionFeatures(s, view);
  return predictPoisson({ intercept: c.intercept, coefficients: c.coefficients }, c.features.map((name) => f[name]), Math.log(view.expectation + 1e-3));
}

/** Predictions of one customer as of `asOfMs` from their history before it. */
export function customerPredictions(bgnbd: BgnbdParams, model: PredictionModel, history: CustomerHistory, asOfMs: number, currency?: string): Predictions {
  const state = customerState(history, asOfMs, model.horizonDays);
  const base = { horizonDays: model.horizonDays, basis: state.days.length > 1 ? ("customer" as const) : ("population" as const) };
  const names = { purchases: model.corrections.purchases?.name ?? "bgnbd", spend: model.spend ? (model.corrections.spend?.name ?? `gamma-gamma${model.spend.source === "prior" ? " (prior)" : ""}`) : "none (no spend yet)" };
  if (state.days.length === 0) return { ...base, ...nonBuyerPredictions(model, state, currency), model: names };

  const point = pointPrediction(bgnbd, model, state);
  const r = state.repeat as RepeatSummary;
  const weeks = (model.horizonDays * DAY_MS) / WEEK_MS;
  const pmf = purchaseCountPmf(bgnbd, rateMatchedWeeks(bgnbd, r, weeks, point.plainPurchases, point.purchases), r.x, r.tx, r.T);
  const pmfMean = pmf.reduce((s, p, n) => s + p * n, 0);
  const spendInterval = spendIntervalOf(model, state, pmf, pmfMean, point);
  return {
    ...base,
    pAlive: round(point.pAlive, 4),
    expectedPurchases: { horizonDays: model.horizonDays, value: round(point.purchases, 3), interval: countInterval(pmf) },
    nextPurchase: nextPurchase(model, state, state.days.at(-1)! * DAY_MS, 1 - pmf[0]!, (u) => aliveWaitDays(bgnbd, r, u)),
    value: {
      horizonDays: model.horizonDays,
      amount: money(point.spend),
      currency: currency ?? null,
      interval: spendInterval,
      expectedOrderValue: money(point.orderValue),
      percentile: valuePercentile(model.valuePercentiles, point.spend),
    },
    model: names,
  };
}

/**
 * The horizon (weeks) at which the uncorrected distribution's mean equals the corrected
 * one: the same as scaling the customer's purchase rate. Bounded to 1/50–50 × the horizon.
 */
function rateMatchedWeeks(bgnbd: BgnbdParams, r: RepeatSummary, weeks: number, plain: number, corrected: number): number {
  if (!(plain > 0) || Math.abs(corrected / plain - 1) < 1e-6) return weeks;
  const mean = (w: number) => expectedPurchases(bgnbd, w, r.x, r.tx, r.T);
  let low = weeks / 50;
  let high = weeks * 50;
  if (corrected <= mean(low)) return low;
  if (corrected >= mean(high)) return high;
  for (let i = 0; i < 40; i++) {
    const mid = Math.sqrt(low * high);
    if (mean(mid) < corrected) low = mid;
    else high = mid;
  }
  return Math.sqrt(low * high);
}

function spendIntervalOf(model: PredictionModel, state: CustomerState, pmf: number[], pmfMean: number, point: PointPrediction) {
  if (!model.spend || !(point.orderValue > 0) || !Number.isFinite(point.orderValue) || pmfMean <= 0) return { low: 0, high: 0 };
  const params: GammaGammaParams = model.spend;
  // Amounts rescaled so the distribution's mean is the (possibly corrected) spend.
  const scale = point.spend / (pmfMean * point.orderValue);
  const cdf = horizonSpendCdf(params, state.spend, pmf, scale > 0 ? scale : 1);
  const interval = predictiveInterval(pmf[0]!, (u) => continuousQuantile(cdf, u, point.spend || point.orderValue));
  return { low: money(interval.low), high: money(interval.high) };
}

/**
 * Due by the customer's rhythm; the interval of the next order's date is the rhythm's given
 * no order so far, or, once they are past their rhythm (overdue), BG/NBD's memoryless waiting
 * time of a customer still active (`overdueWaitDays`), since the rhythm no longer tells.
 */
function nextPurchase(
  model: PredictionModel,
  state: CustomerState,
  fromMs: number,
  pWithinHorizon: number,
  overdueWaitDays?: (u: number) => number,
): Predictions["nextPurchase"] {
  const gap = nextGapDistribution(model.rhythm, state.gaps);
  const waited = daysSinceLastPurchase(state);
  const likelyByMs = fromMs + gapQuantile(gap, INTERVAL_LEVEL) * DAY_MS;
  const overdue = state.asOfMs > likelyByMs + DAY_MS;
  const at = overdue && overdueWaitDays ? (u: number) => state.asOfMs + overdueWaitDays(u) * DAY_MS : (u: number) => fromMs + gapQuantileAfterWaiting(gap, waited, u) * DAY_MS;
  return {
    likelyBy: isoDay(likelyByMs),
    interval: { from: isoDay(Math.max(at(0.05), state.asOfMs)), to: isoDay(at(0.95)) },
    overdue,
    typicalGapDays: round(Math.exp(gap.location), 1),
    pWithinHorizon: round(pWithinHorizon, 4),
  };
}

/** Days until the next purchase of a customer still alive: λ ~ Gamma(r + x, α + T) makes the wait Lomax. */
function aliveWaitDays(p: BgnbdParams, r: RepeatSummary, u: number): number {
  const weeks = (p.alpha + r.T) * (Math.pow(1 - u, -1 / (p.r + r.x)) - 1);
  return (weeks * WEEK_MS) / DAY_MS;
}

/** No purchase yet: what customers in the same position did, from the back-test (zero when none were seen). */
function nonBuyerPredictions(model: PredictionModel, state: CustomerState, currency?: string) {
  const seen = model.nonBuyers;
  const none = { mean: 0, low: 0, high: 0 };
  const purchases = seen?.purchases ?? none;
  const spend = seen?.spend ?? none;
  const orderValue = model.spend ? expectedSpend(model.spend, { x: 0, mean: 0 }) : 0;
  return {
    pAlive: 1,
    expectedPurchases: { horizonDays: model.horizonDays, value: round(purchases.mean, 3), interval: { low: purchases.low, high: purchases.high } },
    nextPurchase: nextPurchase(model, state, state.firstSeenMs, seen?.pAnyPurchase ?? 0),
    value: {
      horizonDays: model.horizonDays,
      amount: money(spend.mean),
      currency: currency ?? null,
      interval: { low: money(spend.low), high: money(spend.high) },
      expectedOrderValue: money(orderValue),
      percentile: valuePercentile(model.valuePercentiles, spend.mean),
    },
  };
}

/** Share (0–100) of current customers predicted to be worth less than `amount`. */
export function valuePercentile(percentiles: readonly number[], amount: number): number {
  if (percentiles.length < 2) return 50;
  let below = 0;
  while (below < percentiles.length && percentiles[below]! < amount) below++;
  if (below === 0) return 0;
  if (below === percentiles.length) return 100;
  const lo = percentiles[below - 1]!;
  const hi = percentiles[below]!;
  const step = 100 / (percentiles.length - 1);
  return round((below - 1) * step + (hi > lo ? ((amount - lo) / (hi - lo)) * step : 0), 1);
}
