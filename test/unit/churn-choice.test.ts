import { describe, expect, test } from "bun:test";
import { betaQuantile, regularizedBeta } from "../../pipelines/incomplete-beta";
import { DAY_MS } from "../../pipelines/bgnbd";
import type { CustomerHistory } from "../../pipelines/churn-features";
import { chooseChurnModel, CHURN_CANDIDATES } from "../../src/inference/churn-choice";
import { calibrationSample, churnInterval } from "../../src/inference/churn-interval";
import type { ChurnDefinition } from "../../src/inference/churn-model";
import { buildTrainingSet } from "../../src/inference/churn-training";

const NOW = Date.UTC(2025, 0, 1);
const definition: ChurnDefinition = { horizonDays: 30, basis: "purchase", explicitCancellation: false };

function rng(seed: number) {
  return () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/**
 * Everyone buys every ~10 days; big spenders keep buying, small spenders stop at a random time.
 * Whether a customer stays is written in their order value, which BG/NBD never looks at.
 */
function spendTenant(count: number): CustomerHistory[] {
  const rand = rng(17);
  return Array.from({ length: count }, (_, c) => {
    const big = rand() < 0.5;
    const amount = big ? 80 + rand() * 40 : 10 + rand() * 10;
    const start = NOW - 300 * DAY_MS + rand() * 30 * DAY_MS;
    const stop = big ? NOW : start + rand() * 300 * DAY_MS;
    const purchases = [];
    for (let t = start; t < stop; t += (7 + rand() * 6) * DAY_MS) purchases.push({ ts: Math.floor(t), amount, messageId: `${c}-${purchases.length}` });
    return { customerId: `s${c}`, firstSeenMs: start, purchases, events: [] };
  }).filter((h) => h.purchases.length > 0);
}

describe("per-tenant churn model choice", () => {
  const histories = spendTenant(1200);
  const { snapshots } = buildTrainingSet(histories, NOW, definition, { snapshots: 4, stepDays: 10 });

  test("picks a learned model when the tenant's history shows it beats BG/NBD, and records every candidate's figures", () => {
    const chosen = chooseChurnModel(snapshots, definition, NOW, CHURN_CANDIDATES.slice(0, 2));
    expect(chosen.model).toBeDefined();
    expect(chosen.choice!.method).toBe("time-split");
    expect(chosen.choice!.validationAsOf).toBe(new Date(snapshots[0]!.asOfMs).toISOString());
    expect(chosen.choice!.candidates.map((c) => c.name)).toEqual(CHURN_CANDIDATES.slice(0, 2).map((c) => c.name));
    const best = Math.max(...chosen.choice!.candidates.map((c) => c.auc));
    expect(best).toBeGreaterThan(chosen.choice!.baseline.auc);
    expect(chosen.choice!.candidates.find((c) => c.name === chosen.choice!.chosen)!.auc).toBe(best);
    expect(chosen.calibration!.p.length).toBe(chosen.choice!.validationRows);
  });

  test("ships no learned model when the candidates lose to BG/NBD on validation, and says so", () => {
    // No purchase here carries a quantity: the feature is unknown for everyone, so the model ranks no one.
    const blind = [{ name: "blind", gbm: { maxDepth: 2 }, features: ["items_per_order" as const] }];
    const chosen = chooseChurnModel(snapshots, definition, NOW, blind);
    expect(chosen.model).toBeUndefined();
    expect(chosen.choice!.chosen).toBe("bgnbd");
    expect(chosen.note).toMatch(/no candidate beat BG\/NBD/);
  });

  test("says there is too little history when there is", () => {
    const few = buildTrainingSet(spendTenant(30), NOW, definition, { snapshots: 2, stepDays: 10 }).snapshots;
    expect(chooseChurnModel(few, definition, NOW).note).toMatch(/too little labelled history/);
  });
});

describe("churn probability intervals", () => {
  test("the beta quantile inverts the regularised incomplete beta", () => {
    for (const [a, b] of [[2, 5], [0.5, 0.5], [30, 70]] as const)
      for (const q of [0.05, 0.5, 0.95]) expect(regularizedBeta(betaQuantile(q, a, b), a, b)).toBeCloseTo(q, 6);
  });

  test("90% intervals hold the observed churn rate of their bin about 90% of the time", () => {
    let covered = 0;
    let bins = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const rand = rng(seed);
      const draw = (n: number) => Array.from({ length: n }, () => rand() ** 1.5).map((p) => ({ p, y: rand() < p ? 1 : 0 }));
      const sample = draw(5_000);
      const cal = calibrationSample(sample.map((s) => s.p), sample.map((s) => s.y));
      // Groups of customers like one another, as many as the interval rests on (400).
      const test = draw(8_000).sort((a, b) => a.p - b.p);
      for (let b = 0; b < 20; b++) {
        const bin = test.slice((b * test.length) / 20, ((b + 1) * test.length) / 20);
        const meanP = bin.reduce((s, x) => s + x.p, 0) / bin.length;
        const observed = bin.reduce((s, x) => s + x.y, 0) / bin.length;
        const interval = churnInterval(cal, meanP, 0, { rate: 0.5, count: 0 });
        bins++;
        if (observed >= interval.low && observed <= interval.high) covered++;
      }
    }
    expect(covered / bins).toBeGreaterThan(0.8);
    expect(covered / bins).toBeLessThan(0.98);
  });

  test("widen to hold what happens when the model's calibration was off a period later", () => {
    const rand = rng(9);
    const shifted = (p: number) => 1 / (1 + Math.exp(-(Math.log(p / (1 - p)) + 0.6)));
    const draw = (n: number) => Array.from({ length: n }, () => 0.05 + 0.9 * rand()).map((p) => ({ p, y: rand() < shifted(p) ? 1 : 0 }));
    const sample = draw(5_000);
    const cal = calibrationSample(sample.map((s) => s.p), sample.map((s) => s.y));
    const test = draw(8_000).sort((a, b) => a.p - b.p);
    let covered = 0;
    for (let b = 0; b < 20; b++) {
      const bin = test.slice((b * test.length) / 20, ((b + 1) * test.length) / 20);
      const meanP = bin.reduce((s, x) => s + x.p, 0) / bin.length;
      const observed = bin.reduce((s, x) => s + x.y, 0) / bin.length;
      const interval = churnInterval(cal, meanP, 0, { rate: 0.5, count: 0 });
      expect(interval.low).toBeLessThan(meanP);
      expect(interval.high).toBeGreaterThan(meanP);
      if (observed >= interval.low && observed <= interval.high) covered++;
    }
    expect(covered / 20).toBeGreaterThanOrEqual(0.8);
  });

  test("are wide with little evidence, narrower with more, and move with the signals' log-odds", () => {
    const none = churnInterval(undefined, 0.3, 0, { rate: 0.3, count: 0 });
    const some = churnInterval(undefined, 0.3, 0, { rate: 0.3, count: 1000 });
    expect(none.high - none.low).toBeGreaterThan(some.high - some.low);
    const moved = churnInterval(undefined, 0.3, 2, { rate: 0.3, count: 1000 });
    expect(moved.low).toBeGreaterThan(some.low);
    expect(moved.high).toBeGreaterThan(some.high);
  });
});
