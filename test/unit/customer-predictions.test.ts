import { describe, expect, it } from "bun:test";
import { WEEK_MS, type BgnbdParams } from "../../pipelines/bgnbd";
import type { CustomerHistory } from "../../pipelines/churn-features";
import { customerPredictions, predictionsSchema, valuePercentile, type PredictionModel } from "../../pipelines/customer-predictions";
import { outcomeAfter } from "../../pipelines/prediction-features";
import { PRIOR_RHYTHM } from "../../pipelines/purchase-rhythm";
import { DAY_MS, simulateBuyers } from "../support/synthetic-buyers";

const BGNBD: BgnbdParams = { r: 0.8, alpha: 6, a: 0.9, b: 3 };
const SPEND = { p: 3, q: 4, gamma: 30 };
const model = (overrides: Partial<PredictionModel> = {}): PredictionModel => ({
  horizonDays: 90,
  spend: { ...SPEND, customers: 500, source: "fitted" },
  rhythm: { mu: Math.log(14), tau2: 0.3, sigma2: 0.2, customers: 500 },
  corrections: {},
  valuePercentiles: Array.from({ length: 101 }, (_, k) => k),
  ...overrides,
});
const NOW = Date.UTC(2021, 0, 1);
const at = (daysAgo: number) => NOW - daysAgo * DAY_MS;
const history = (amounts: [daysAgo: number, amount: number][], firstSeenDaysAgo = 30): CustomerHistory => ({
  customerId: "c",
  firstSeenMs: at(firstSeenDaysAgo),
  purchases: amounts.map(([d, amount], i) => ({ ts: at(d), amount, messageId: `m${i}` })),
  events: [],
});
const numbersIn = (v: unknown): number[] => (typeof v === "number" ? [v] : v && typeof v === "object" ? Object.values(v).flatMap(numbersIn) : []);

describe("customer predictions", () => {
  const coldStarts = [
    { name: "no purchase yet", h: history([]), m: model() },
    { name: "no purchase, nothing learned about non-buyers, no spend model", h: history([]), m: model({ spend: null, valuePercentiles: [] }) },
    { name: "one order", h: history([[3, 40]]), m: model() },
    { name: "one free order", h: history([[3, 0]]), m: model() },
    { name: "two orders the same day", h: history([[3, 40], [3, 10]]), m: model() },
    {
      name: "no purchase, with what non-buyers did",
      h: history([]),
      m: model({ nonBuyers: { customers: 50, purchases: { mean: 0.2, low: 0, high: 1 }, spend: { mean: 8, low: 0, high: 40 }, pAnyPurchase: 0.15 } }),
    },
  ];
  it.each(coldStarts)("should give population-level figures, never blank or NaN: $name", ({ h, m }) => {
    const p = predictionsSchema.parse(customerPredictions(BGNBD, m, h, NOW, "EUR"));
    expect(numbersIn(p).every(Number.isFinite)).toBe(true);
    expect(p.basis).toBe("population");
    expect(p.expectedPurchases.interval.low).toBeLessThanOrEqual(p.expectedPurchases.interval.high);
    expect(p.value.interval.low).toBeLessThanOrEqual(p.value.interval.high);
    expect(p.value.currency).toBe("EUR");
    for (const day of [p.nextPurchase.likelyBy, p.nextPurchase.interval.from, p.nextPurchase.interval.to]) expect(Number.isNaN(Date.parse(day))).toBe(false);
  });

  it("should keep figures finite when refunds outweigh orders", () => {
    const p = customerPredictions(BGNBD, model({ spend: null }), history([[10, 40], [3, -60]]), NOW);
    expect(numbersIn(p).every(Number.isFinite)).toBe(true);
    expect(p.value.amount).toBe(0);
  });

  it("should give what non-buyers did to a customer without a purchase", () => {
    const m = model({ nonBuyers: { customers: 50, purchases: { mean: 0.2, low: 0, high: 1 }, spend: { mean: 8, low: 0, high: 40 }, pAnyPurchase: 0.15 } });
    const p = customerPredictions(BGNBD, m, history([]), NOW);
    expect(p.expectedPurchases).toEqual({ horizonDays: 90, value: 0.2, interval: { low: 0, high: 1 } });
    expect(p.value.amount).toBe(8);
    expect(p.nextPurchase.pWithinHorizon).toBe(0.15);
  });

  it("should mark a customer past their usual rhythm overdue, and one within it not", () => {
    const regular = history(Array.from({ length: 8 }, (_, i) => [5 + 14 * i, 30] as [number, number]), 120);
    const late = history(Array.from({ length: 8 }, (_, i) => [80 + 14 * i, 30] as [number, number]), 200);
    const a = customerPredictions(BGNBD, model(), regular, NOW);
    const b = customerPredictions(BGNBD, model(), late, NOW);
    expect(a.basis).toBe("customer");
    expect(a.nextPurchase.overdue).toBe(false);
    expect(a.nextPurchase.typicalGapDays).toBeCloseTo(14, 0);
    expect(Date.parse(a.nextPurchase.interval.from)).toBeGreaterThanOrEqual(NOW - DAY_MS);
    expect(b.nextPurchase.overdue).toBe(true);
    expect(Date.parse(b.nextPurchase.likelyBy)).toBeLessThan(NOW);
    expect(Date.parse(b.nextPurchase.interval.to)).toBeGreaterThan(NOW);
    expect(b.pAlive).toBeLessThan(a.pAlive);
  });

  it("should carry a correction into the value and its interval alike", () => {
    const h = history([[60, 30], [40, 35], [20, 25], [5, 30]], 90);
    const plain = customerPredictions(BGNBD, model(), h, NOW);
    // a blend of one half with the last period, which held 4 orders (120 spent)
    const blended = customerPredictions(BGNBD, model({ corrections: { purchases: { kind: "blend", name: "b", modelWeight: 0.5 }, spend: { kind: "blend", name: "s", modelWeight: 0.5 } } }), h, NOW);
    expect(blended.expectedPurchases.value).toBeCloseTo(0.5 * plain.expectedPurchases.value + 0.5 * 4, 2);
    expect(blended.value.amount).toBeCloseTo(0.5 * blended.expectedPurchases.value * blended.value.expectedOrderValue + 0.5 * 120, 1);
    expect(blended.expectedPurchases.interval.high).toBeGreaterThan(plain.expectedPurchases.interval.high);
    expect(blended.value.interval.high).toBeGreaterThan(plain.value.interval.high);
    expect(blended.model.purchases).toBe("b");
  });

  it("should cover 85–95 % of simulated customers' spend with its 90 % interval when the model is right", () => {
    const histories = simulateBuyers({ customers: 3000, bgnbd: BGNBD, spend: SPEND, acquisitionWeeks: 12, totalWeeks: 70, seed: 9 });
    const cutoff = Date.UTC(2020, 0, 1) + 52 * WEEK_MS;
    const m = model({ rhythm: PRIOR_RHYTHM });
    let purchases = 0;
    let spend = 0;
    let predicted = 0;
    let actual = 0;
    for (const h of histories) {
      const p = customerPredictions(BGNBD, m, h, cutoff);
      const did = outcomeAfter(h, cutoff, 90);
      if (did.purchases >= p.expectedPurchases.interval.low && did.purchases <= p.expectedPurchases.interval.high) purchases++;
      if (did.spend >= p.value.interval.low && did.spend <= p.value.interval.high) spend++;
      predicted += p.value.amount;
      actual += did.spend;
    }
    for (const covered of [purchases, spend]) {
      expect(covered / histories.length).toBeGreaterThan(0.85);
      expect(covered / histories.length).toBeLessThan(0.95);
    }
    expect(Math.abs(predicted / actual - 1)).toBeLessThan(0.06);
  });

  it("should place a value among the population's percentiles", () => {
    const grid = Array.from({ length: 101 }, (_, k) => k * 10);
    expect(valuePercentile(grid, -1)).toBe(0);
    expect(valuePercentile(grid, 505)).toBeCloseTo(50.5, 5);
    expect(valuePercentile(grid, 5000)).toBe(100);
    expect(valuePercentile([], 5)).toBe(50);
  });
});
