import { describe, expect, it } from "bun:test";
import { expectedPurchases, fitBgnbd, pNoPurchase, repeatSummary, WEEK_MS, type BgnbdParams } from "../../pipelines/bgnbd";
import { countInterval } from "../../pipelines/predictive-interval";
import { purchaseCountPmf } from "../../pipelines/purchase-distribution";
import { outcomeAfter } from "../../pipelines/prediction-features";
import { simulateBuyers } from "../support/synthetic-buyers";

const PUBLISHED: BgnbdParams = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
const customers = [
  { x: 0, tx: 0, T: 30 },
  { x: 2, tx: 30.43, T: 38.86 },
  { x: 10, tx: 35, T: 39 },
  { x: 5, tx: 5, T: 39 },
];

describe("BG/NBD predictive distribution of purchases", () => {
  it.each(customers)("should sum to 1 with the mean of the paper's E[X] and P(0) = P(no purchase) (%o)", ({ x, tx, T }) => {
    const pmf = purchaseCountPmf(PUBLISHED, 39, x, tx, T, 1e-12);
    expect(pmf.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    expect(pmf.reduce((a, q, n) => a + q * n, 0)).toBeCloseTo(expectedPurchases(PUBLISHED, 39, x, tx, T), 6);
    expect(pmf[0]!).toBeCloseTo(pNoPurchase(PUBLISHED, 39, x, tx, T), 12);
    expect(pmf.every((q) => q >= 0)).toBe(true);
  });

  it("should recover known parameters from simulated customers and cover 85–95 % of their next-period purchases", () => {
    const truth: BgnbdParams = { r: 0.8, alpha: 6, a: 0.9, b: 3 };
    const histories = simulateBuyers({ customers: 4000, bgnbd: truth, spend: { p: 3, q: 4, gamma: 30 }, acquisitionWeeks: 12, totalWeeks: 78, seed: 3 });
    const cutoff = Date.UTC(2020, 0, 1) + 52 * WEEK_MS;
    const summaries = histories.map((h) => repeatSummary(h.purchases.map((p) => p.ts), cutoff)!);
    const { params } = fitBgnbd(summaries);
    expect(Math.abs(params.r / truth.r - 1)).toBeLessThan(0.1);
    expect(Math.abs(params.alpha / truth.alpha - 1)).toBeLessThan(0.1);
    expect(Math.abs(params.a / truth.a - 1)).toBeLessThan(0.2);
    expect(Math.abs(params.b / truth.b - 1)).toBeLessThan(0.2);

    let covered = 0;
    let predicted = 0;
    let actual = 0;
    histories.forEach((h, i) => {
      const s = summaries[i]!;
      const pmf = purchaseCountPmf(truth, 26, s.x, s.tx, s.T);
      const { low, high } = countInterval(pmf);
      const did = outcomeAfter(h, cutoff, 26 * 7).purchases;
      if (did >= low && did <= high) covered++;
      predicted += expectedPurchases(truth, 26, s.x, s.tx, s.T);
      actual += did;
    });
    expect(covered / histories.length).toBeGreaterThan(0.85);
    expect(covered / histories.length).toBeLessThan(0.95);
    expect(Math.abs(predicted / actual - 1)).toBeLessThan(0.05);
  });

  it("should widen with the horizon and shift up for a more frequent buyer", () => {
    const short = countInterval(purchaseCountPmf(PUBLISHED, 4, 10, 35, 39));
    const long = countInterval(purchaseCountPmf(PUBLISHED, 52, 10, 35, 39));
    expect(long.high).toBeGreaterThan(short.high);
    const rare = countInterval(purchaseCountPmf(PUBLISHED, 39, 1, 20, 39));
    const frequent = countInterval(purchaseCountPmf(PUBLISHED, 39, 15, 38, 39));
    expect(frequent.high).toBeGreaterThan(rare.high);
    expect(frequent.low).toBeGreaterThanOrEqual(rare.low);
  });
});
