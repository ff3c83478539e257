import { sharedData } from "../../scripts/lib/shared-data";
import { describe, expect, it } from "bun:test";
import {
  DAY_MS,
  expectedPurchases,
  fitBgnbd,
  gammaln,
  hyp2f1,
  pAlive,
  pNoPurchase,
  repeatSummary,
  type BgnbdParams,
} from "../../pipelines/bgnbd.ts";

const CDNOW_SAMPLE = sharedData("cdnow", "CDNOW_sample.txt");
const PUBLISHED: BgnbdParams = { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };

async function cdnowSamplePurchases(): Promise<number[][]> {
  const byCustomer = new Map<string, number[]>();
  for (const line of (await Bun.file(CDNOW_SAMPLE).text()).split(/\r?\n/)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5) continue;
    const [id, , date] = fields as [string, string, string];
    const ts = Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8));
    const list = byCustomer.get(id) ?? [];
    list.push(ts);
    byCustomer.set(id, list);
  }
  return [...byCustomer.values()];
}

describe("BG/NBD", () => {
  it("should reproduce the published CDNOW-sample parameters within 1%", async () => {
    const calibrationEnd = Date.UTC(1997, 9, 1); // 39 weeks, through 1997-09-30
    const data = (await cdnowSamplePurchases()).map((p) => repeatSummary(p, calibrationEnd)!);
    expect(data.length).toBe(2357);
    const { params, logLikelihood } = fitBgnbd(data);
    for (const key of ["r", "alpha", "a", "b"] as const) {
      expect(Math.abs(params[key] / PUBLISHED[key] - 1)).toBeLessThan(0.01);
    }
    expect(logLikelihood).toBeCloseTo(-9582.4, 0);
  });

  it("should count repeat purchases per distinct day and measure T to the last observed day", () => {
    const day = (d: number) => Date.UTC(1997, 0, d);
    const s = repeatSummary([day(1), day(1) + 3600_000, day(8), day(40)], day(30));
    expect(s).toEqual({ x: 1, tx: 1, T: 28 / 7 });
    expect(repeatSummary([day(40)], day(30))).toBeNull();
  });

  const params = [PUBLISHED, { r: 1.5, alpha: 10, a: 2, b: 5 }, { r: 0.1, alpha: 0.5, a: 0.2, b: 0.9 }];

  it.each(params)("should give P(alive) = 1 to a customer without repeat purchases (%o)", (p) => {
    for (const T of [0, 1, 10, 100]) expect(pAlive(p, 0, 0, T)).toBe(1);
  });

  it.each(params)("should lower P(alive) the longer a customer has been silent (%o)", (p) => {
    let previous = 1;
    for (const T of [5, 10, 20, 40, 80]) {
      const alive = pAlive(p, 3, 5, T);
      expect(alive).toBeLessThanOrEqual(previous);
      expect(alive).toBeGreaterThan(0);
      previous = alive;
    }
    expect(pAlive(p, 3, 20, 20)).toBeGreaterThan(pAlive(p, 3, 10, 20));
  });

  it.each(params)("should keep P(no purchase in horizon) in [1 − P(alive), 1] and decreasing in the horizon (%o)", (p) => {
    const alive = pAlive(p, 2, 10, 30);
    let previous = 1;
    for (const h of [0, 1, 5, 26, 52]) {
      const q = pNoPurchase(p, h, 2, 10, 30);
      expect(q).toBeLessThanOrEqual(previous + 1e-12);
      expect(q).toBeGreaterThanOrEqual(1 - alive - 1e-12);
      previous = q;
    }
    expect(pNoPurchase(p, 0, 2, 10, 30)).toBeCloseTo(1, 12);
  });

  it("should agree with a Monte Carlo simulation for P(no purchase in horizon)", () => {
    // Simulate the model's posterior: draw λ, p from the prior, keep histories that match (x=0, T).
    const p = { r: 2, alpha: 8, a: 1.5, b: 4 };
    const T = 6;
    const h = 10;
    let kept = 0;
    let quiet = 0;
    let seed = 42;
    const uniform = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) + 0.5) / 2 ** 32;
    const gamma2 = (rate: number) => (-Math.log(uniform()) - Math.log(uniform())) / rate; // shape 2
    for (let i = 0; i < 400_000; i++) {
      const lambda = gamma2(p.alpha);
      const waitMs = -Math.log(uniform()) / lambda;
      if (waitMs <= T) continue; // x = 0 means no repeat purchase by T
      kept++;
      if (waitMs > T + h) quiet++;
    }
    expect(Math.abs(quiet / kept - pNoPurchase(p, h, 0, 0, T))).toBeLessThan(0.01);
  });

  it("should reproduce the paper's conditional expectation for a known customer", () => {
    // Fader, Hardie & Lee (2005), Hardie's spreadsheet note: x=2, tx=30.43, T=38.86 expects 1.226 purchases in the next 39 weeks.
    expect(expectedPurchases(PUBLISHED, 39, 2, 30.43, 38.86)).toBeCloseTo(1.226, 3);
  });

  it("should compute ln Γ and 2F1 accurately", () => {
    expect(gammaln(5)).toBeCloseTo(Math.log(24), 12);
    expect(gammaln(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    expect(hyp2f1(1, 1, 2, 0.5)).toBeCloseTo(-Math.log(0.5) / 0.5, 12);
  });

  it("should treat purchases on the as-of instant as not yet observed", () => {
    const t = Date.UTC(2000, 0, 10);
    expect(repeatSummary([t - DAY_MS, t], t)!.x).toBe(0);
  });
});
