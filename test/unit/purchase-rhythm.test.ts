import { describe, expect, it } from "bun:test";
import { normalCdf, normalQuantile } from "../../pipelines/normal";
import { fitRhythm, gapQuantile, gapQuantileAfterWaiting, nextGapDistribution, PRIOR_RHYTHM, purchaseDayGaps } from "../../pipelines/purchase-rhythm";
import { randomSource } from "../support/synthetic-buyers";

describe("buying rhythm", () => {
  it("should recover the population's gap level and spreads from simulated customers", () => {
    const truth = { mu: Math.log(21), tau2: 0.3, sigma2: 0.15 };
    const rnd = randomSource(17);
    const gaps = Array.from({ length: 3000 }, (_, c) => {
      const own = truth.mu + Math.sqrt(truth.tau2) * rnd.normal();
      return Array.from({ length: 1 + (c % 9) }, () => Math.exp(own + Math.sqrt(truth.sigma2) * rnd.normal()));
    });
    const fit = fitRhythm(gaps);
    expect(fit.customers).toBe(3000);
    expect(Math.abs(fit.mu - truth.mu)).toBeLessThan(0.05);
    expect(Math.abs(fit.tau2 / truth.tau2 - 1)).toBeLessThan(0.15);
    expect(Math.abs(fit.sigma2 / truth.sigma2 - 1)).toBeLessThan(0.1);
  });

  it("should keep to the prior until two customers have bought twice", () => {
    expect(fitRhythm([[], [10]])).toEqual(PRIOR_RHYTHM);
  });

  it("should shrink a customer with few gaps toward the population and trust one with many", () => {
    const population = { mu: Math.log(30), tau2: 0.4, sigma2: 0.2, customers: 100 };
    const one = nextGapDistribution(population, [7]);
    const many = nextGapDistribution(population, Array.from({ length: 20 }, () => 7));
    expect(Math.exp(one.location)).toBeGreaterThan(7);
    expect(Math.exp(one.location)).toBeLessThan(30);
    expect(Math.exp(many.location)).toBeCloseTo(7, 0);
    expect(many.scale).toBeLessThan(one.scale);
    expect(nextGapDistribution(population, []).location).toBe(population.mu);
  });

  it("should give quantiles consistent with the log-normal, before and after waiting", () => {
    const d = { location: Math.log(20), scale: 0.5 };
    expect(gapQuantile(d, 0.5)).toBeCloseTo(20, 8);
    const waited = 25;
    const pBeyond = 1 - normalCdf((Math.log(waited) - d.location) / d.scale);
    for (const u of [0.05, 0.5, 0.95]) {
      const g = gapQuantileAfterWaiting(d, waited, u);
      expect(g).toBeGreaterThanOrEqual(waited);
      const conditional = (normalCdf((Math.log(g) - d.location) / d.scale) - (1 - pBeyond)) / pBeyond;
      expect(conditional).toBeCloseTo(u, 5);
    }
    // far past the rhythm the quantile stays finite
    expect(Number.isFinite(gapQuantileAfterWaiting(d, 5000, 0.95))).toBe(true);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
  });

  it("should measure gaps between distinct purchase days", () => {
    expect(purchaseDayGaps([10, 3, 3, 17])).toEqual([7, 7]);
  });
});
