/** Two customers with known histories and the predictions served for them, for the prediction-scores and report tests. */
import type { CustomerHistory } from "../../pipelines/churn-features";
import type { PredictionModel, Predictions } from "../../pipelines/customer-predictions";
import { PRIOR_RHYTHM } from "../../pipelines/purchase-rhythm";
import { scorePredictions } from "../../src/eval/prediction-scores";

const DAY = 86_400_000;
export const CUTOFF = Date.UTC(2021, 0, 1);
const on = (day: number, amount: number, id: string) => ({ ts: CUTOFF + day * DAY + 3_600_000, amount, messageId: id });
export const histories: CustomerHistory[] = [
  // a: one order in the last 90 days before the cutoff; after it two purchase days (two orders on day 10), 70 spent
  { customerId: "a", firstSeenMs: CUTOFF - 100 * DAY, purchases: [on(-100, 20, "a1"), on(-50, 30, "a2"), on(10, 10, "a3"), on(10, 20, "a4"), on(40, 40, "a5")], events: [] },
  // b: nothing since day −200
  { customerId: "b", firstSeenMs: CUTOFF - 200 * DAY, purchases: [on(-200, 15, "b1")], events: [] },
  // c: never bought before the cutoff, so not scored
  { customerId: "c", firstSeenMs: CUTOFF - 10 * DAY, purchases: [on(5, 10, "c1")], events: [] },
];
const predicted = (value: number, high: number, amount: number, amountHigh: number): Predictions => ({
  horizonDays: 90,
  basis: "customer",
  pAlive: 0.5,
  expectedPurchases: { horizonDays: 90, value, interval: { low: 0, high } },
  nextPurchase: { likelyBy: "2021-01-20", interval: { from: "2021-01-01", to: "2021-02-01" }, overdue: false, typicalGapDays: 30, pWithinHorizon: 0.5 },
  value: { horizonDays: 90, amount, currency: "EUR", interval: { low: 0, high: amountHigh }, expectedOrderValue: 25, percentile: 50 },
  model: { purchases: "bgnbd", spend: "gamma-gamma" },
});
export const served: Record<string, Predictions> = { a: predicted(1.5, 3, 40, 60), b: { ...predicted(0.2, 0, 5, 0), nextPurchase: { ...predicted(0, 0, 0, 0).nextPurchase, overdue: true } } };
export const lifelineModel: PredictionModel = { horizonDays: 90, spend: null, rhythm: PRIOR_RHYTHM, corrections: {}, valuePercentiles: [] };


export const scoredFixture = () =>
  scorePredictions({ histories, cutoffMs: CUTOFF, horizonDays: 90, predictionsOf: (id) => served[id], lifeline: { bgnbd: { r: 0.5, alpha: 5, a: 0.8, b: 2.5 }, model: lifelineModel } });
