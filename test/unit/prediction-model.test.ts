import { describe, expect, it } from "bun:test";
import { fitBgnbd, repeatSummary, WEEK_MS } from "../../pipelines/bgnbd";
import type { CustomerHistory } from "../../pipelines/churn-features";
import { pointPrediction } from "../../pipelines/customer-predictions";
import { customerState, outcomeAfter } from "../../pipelines/prediction-features";
import { fitPredictionModel, fitSpendModel } from "../../src/inference/prediction-model";
import { DAY_MS, simulateBuyers } from "../support/synthetic-buyers";

const START = Date.UTC(2020, 0, 1);
const truth = { bgnbd: { r: 1.2, alpha: 8, a: 0.8, b: 4 }, spend: { p: 3, q: 4, gamma: 30 } };
const before = (hs: CustomerHistory[], ms: number) => hs.map((h) => ({ ...h, purchases: h.purchases.filter((p) => p.ts < ms) })).filter((h) => h.purchases.length > 0);
const fitAt = (hs: CustomerHistory[], nowMs: number, horizonDays: number) => {
  const known = before(hs, nowMs);
  const bgnbd = fitBgnbd(known.map((h) => repeatSummary(h.purchases.map((p) => p.ts), nowMs)!)).params;
  return { known, bgnbd, model: fitPredictionModel(known, nowMs, horizonDays, bgnbd) };
};

describe("prediction model fitted at refit", () => {
  /** Lifeline's and plain BG/NBD's MAE and totals over the horizon after `nowMs`, which the fit never saw. */
  const future = (hs: CustomerHistory[], fitted: ReturnType<typeof fitAt>, nowMs: number) => {
    const byId = new Map(hs.map((h) => [h.customerId, h]));
    const sums = { corrected: 0, plain: 0, predicted: 0, actual: 0 };
    for (const h of fitted.known) {
      const point = pointPrediction(fitted.bgnbd, fitted.model, customerState(h, nowMs, 91));
      const did = outcomeAfter(byId.get(h.customerId)!, nowMs, 91).purchases;
      sums.corrected += Math.abs(point.purchases - did);
      sums.plain += Math.abs(point.plainPurchases - did);
      sums.predicted += point.purchases;
      sums.actual += did;
    }
    return sums;
  };

  it("should do no harm when plain BG/NBD + Gamma-Gamma are the truth", () => {
    const nowMs = START + 100 * WEEK_MS;
    const hs = simulateBuyers({ customers: 2500, ...truth, acquisitionWeeks: 60, totalWeeks: 113, seed: 31 });
    const fitted = fitAt(hs, nowMs, 91);
    const f = future(hs, fitted, nowMs);
    expect(f.corrected).toBeLessThanOrEqual(1.01 * f.plain);
    expect(Math.abs(f.predicted / f.actual - 1)).toBeLessThan(0.05);
    expect(fitted.model.backtest.candidates.filter((c) => c.chosen)).toHaveLength(2);
    expect(fitted.model.spend?.source).toBe("fitted");
    for (const k of ["p", "q", "gamma"] as const) expect(Math.abs(fitted.model.spend![k] / truth.spend[k] - 1)).toBeLessThan(0.2);
  });

  it("should choose a correction when customers slow down with age (which BG/NBD cannot see), and beat plain on the future", () => {
    const nowMs = START + 100 * WEEK_MS;
    const hs = simulateBuyers({ customers: 2500, ...truth, acquisitionWeeks: 60, totalWeeks: 113, seed: 41, slowdownWeeks: 30 });
    const fitted = fitAt(hs, nowMs, 91);
    expect(fitted.model.corrections.purchases?.name).toMatch(/^bgnbd \+ /);
    const f = future(hs, fitted, nowMs);
    expect(f.corrected).toBeLessThan(0.9 * f.plain);
  });

  it("should fall back to plain models, saying so, without a horizon of history to back-test on", () => {
    const hs = simulateBuyers({ customers: 300, ...truth, acquisitionWeeks: 4, totalWeeks: 20, seed: 5 });
    const { model } = fitAt(hs, START + 20 * WEEK_MS, 91);
    expect(model.corrections).toEqual({});
    expect(model.backtest.note).toContain("too little history");
    expect(model.valuePercentiles).toHaveLength(101);
  });

  it("should learn what customers without a purchase went on to do", () => {
    const nowMs = START + 60 * WEEK_MS;
    const buyers = simulateBuyers({ customers: 400, ...truth, acquisitionWeeks: 30, totalWeeks: 60, seed: 8 });
    // 40 sign-ups a year ago: every fourth bought once, for 20, within the last 91 days
    const signUps: CustomerHistory[] = Array.from({ length: 40 }, (_, i) => ({
      customerId: `signup-${i}`,
      firstSeenMs: nowMs - 300 * DAY_MS,
      purchases: i % 4 === 0 ? [{ ts: nowMs - 30 * DAY_MS, amount: 20, messageId: `s-${i}` }] : [],
      events: [],
    }));
    const bgnbd = fitBgnbd(before(buyers, nowMs).map((h) => repeatSummary(h.purchases.map((p) => p.ts), nowMs)!)).params;
    const model = fitPredictionModel([...before(buyers, nowMs), ...signUps], nowMs, 91, bgnbd);
    expect(model.nonBuyers?.customers).toBe(40);
    expect(model.nonBuyers?.pAnyPurchase).toBeCloseTo(0.25, 10);
    expect(model.nonBuyers?.purchases.mean).toBeCloseTo(0.25, 10);
    expect(model.nonBuyers?.spend.mean).toBeCloseTo(5, 10);
    expect(model.nonBuyers?.purchases).toMatchObject({ low: 0, high: 1 });
  });

  it("should centre the spend prior on the mean order value while few customers have a repeat order, and have none before any spend", () => {
    const one = (amount: number) => customerState({ customerId: "c", firstSeenMs: 0, purchases: [{ ts: DAY_MS, amount, messageId: "m" }], events: [] }, 10 * DAY_MS, 30);
    const prior = fitSpendModel([one(10), one(30)]);
    expect(prior?.source).toBe("prior");
    expect((prior!.p * prior!.gamma) / (prior!.q - 1)).toBeCloseTo(20, 10);
    expect(fitSpendModel([one(0)])).toBeNull();
  });
});
