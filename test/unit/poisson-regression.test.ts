import { expect, test } from "bun:test";
import { fitPoisson, predictPoisson } from "../../pipelines/poisson-regression";
import { randomSource } from "../support/synthetic-buyers";

test("Poisson regression recovers known coefficients, with an offset, from simulated counts", () => {
  const rnd = randomSource(23);
  const truth = { intercept: -0.5, coefficients: [0.8, -0.4] };
  const rows: number[][] = [];
  const y: number[] = [];
  const offset: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    const x = [rnd.normal(), 2 + rnd.normal()];
    const o = Math.log(0.5 + rnd.uniform());
    const mu = predictPoisson(truth, x, o);
    // Poisson draw by inversion
    let k = 0;
    let p = Math.exp(-mu);
    let cdf = p;
    const u = rnd.uniform();
    while (u > cdf) p *= mu / ++k, (cdf += p);
    rows.push(x);
    y.push(k);
    offset.push(o);
  }
  const fit = fitPoisson(rows, y, offset, { l2: 0 });
  expect(fit.intercept).toBeCloseTo(truth.intercept, 1);
  fit.coefficients.forEach((c, j) => expect(Math.abs(c - truth.coefficients[j]!)).toBeLessThan(0.03));
});

test("a feature that never varies gets slope 0 instead of an ill-determined one", () => {
  const rows = Array.from({ length: 200 }, (_, i) => [i % 10, 1 - 1e-9 * (i % 3)]);
  const y = rows.map((r) => Math.round(Math.exp(0.1 * r[0]!)));
  const fit = fitPoisson(rows, y, undefined, { l2: 0 });
  expect(fit.coefficients[1]).toBe(0);
  expect(fit.coefficients[0]).toBeCloseTo(0.1, 1);
});
