import { describe, expect, it } from "bun:test";
import { expectedSpend, fitGammaGamma, horizonSpendCdf, spendCdf, type GammaGammaParams } from "../../pipelines/gamma-gamma";
import { regularizedBeta } from "../../pipelines/incomplete-beta";
import { customerState } from "../../pipelines/prediction-features";
import { sharedData } from "../../scripts/lib/shared-data";
import { loadCdnow } from "../../src/eval/loaders/load-cdnow";

const CDNOW_SAMPLE = sharedData("cdnow", "CDNOW_sample.txt");
import { randomSource } from "../support/synthetic-buyers";

describe("Gamma-Gamma spend model", () => {
  it("should reproduce Fader & Hardie's CDNOW-sample parameters (p 6.25, q 3.74, γ 15.44; LL −4055.92)", async () => {
    // 39-week calibration period (through 1997-09-30), mean value of each customer's repeat purchase days.
    const asOf = Date.UTC(1997, 9, 1);
    const summaries = (await loadCdnow(CDNOW_SAMPLE)).map((h) => customerState(h, asOf, 273).spend);
    const fit = fitGammaGamma(summaries);
    expect(fit.customers).toBe(946);
    expect(fit.params.p).toBeCloseTo(6.25, 2);
    expect(fit.params.q).toBeCloseTo(3.74, 2);
    expect(fit.params.gamma).toBeCloseTo(15.44, 1);
    expect(fit.logLikelihood).toBeCloseTo(-4055.92, 1);
  });

  it("should recover known parameters from simulated customers within 10 %", () => {
    const truth: GammaGammaParams = { p: 4, q: 6, gamma: 50 };
    const rnd = randomSource(11);
    const data = Array.from({ length: 4000 }, () => {
      const nu = rnd.gamma(truth.q, truth.gamma);
      const x = 1 + Math.floor(rnd.uniform() * 8);
      let sum = 0;
      for (let i = 0; i < x; i++) sum += rnd.gamma(truth.p, nu);
      return { x, mean: sum / x };
    });
    const { params } = fitGammaGamma(data);
    for (const k of ["p", "q", "gamma"] as const) expect(Math.abs(params[k] / truth[k] - 1)).toBeLessThan(0.1);
  });

  it("should weigh a customer's own mean against the population's by how many orders they made", () => {
    const p: GammaGammaParams = { p: 6.25, q: 3.74, gamma: 15.44 };
    const population = (p.p * p.gamma) / (p.q - 1);
    expect(expectedSpend(p, { x: 0, mean: 0 })).toBeCloseTo(population, 10);
    const few = expectedSpend(p, { x: 1, mean: 100 });
    const many = expectedSpend(p, { x: 20, mean: 100 });
    expect(few).toBeGreaterThan(population);
    expect(many).toBeGreaterThan(few);
    expect(many).toBeLessThan(100);
    // the published weighted-average form: (q−1)/(px+q−1)·pγ/(q−1) + px/(px+q−1)·m
    const w = (p.p * 20) / (p.p * 20 + p.q - 1);
    expect(many).toBeCloseTo((1 - w) * population + w * 100, 10);
  });

  it("should give the total of n future orders the distribution a simulation gives", () => {
    const p: GammaGammaParams = { p: 3, q: 5, gamma: 40 };
    const summary = { x: 2, mean: 25 };
    const rnd = randomSource(5);
    const draws = Array.from({ length: 40_000 }, () => {
      const nu = rnd.gamma(p.q + p.p * summary.x, p.gamma + summary.x * summary.mean);
      return rnd.gamma(p.p, nu) + rnd.gamma(p.p, nu) + rnd.gamma(p.p, nu);
    });
    for (const s of [30, 60, 100, 200]) {
      const simulated = draws.filter((d) => d <= s).length / draws.length;
      expect(Math.abs(spendCdf(p, summary, 3, s) - simulated)).toBeLessThan(0.01);
    }
    // the mixture over the number of orders: an atom at zero for "no order"
    const cdf = horizonSpendCdf(p, summary, [0.5, 0.3, 0.2]);
    expect(cdf(0)).toBeCloseTo(0.5, 12);
    expect(cdf(1e9)).toBeCloseTo(1, 6);
  });

  it("should compute the regularized incomplete beta function", () => {
    expect(regularizedBeta(0.5, 1, 1)).toBeCloseTo(0.5, 12);
    expect(regularizedBeta(0.3, 2, 3)).toBeCloseTo(0.3483, 10); // binomial tail: P(Bin(4, 0.3) ≥ 2)
    expect(regularizedBeta(0.9, 0.5, 0.5)).toBeCloseTo((2 / Math.PI) * Math.asin(Math.sqrt(0.9)), 10);
    expect(regularizedBeta(0.5, 300, 300)).toBeCloseTo(0.5, 10);
    expect(regularizedBeta(0.2, 3, 7) + regularizedBeta(0.8, 7, 3)).toBeCloseTo(1, 12);
  });
});
