import { describe, expect, it } from "bun:test";
import { DAY_MS } from "../../pipelines/bgnbd.ts";
import { churnFeatures, FEATURE_DIRECTION, FEATURE_NAMES, type CustomerHistory, type FeatureName, type HistoryEvent } from "../../pipelines/churn-features.ts";
import { gbmRawScore, gbmShapley, trainGbm } from "../../src/inference/churn-gbm.ts";
import {
  churnLabel,
  churnProbability,
  deserialiseChurnModel,
  explainModel,
  serialiseChurnModel,
  trainChurnModel,
  type ChurnDefinition,
} from "../../src/inference/churn-model.ts";
import { riskTier } from "../../src/inference/churn-prediction.ts";
import { buildSnapshot, buildTrainingSet, snapshotNeighbourIndex } from "../../src/inference/churn-training.ts";

const T0 = Date.UTC(2024, 0, 1);
const definition: ChurnDefinition = { horizonDays: 60, basis: "purchase", explicitCancellation: true };
const population = { bgnbd: { r: 0.5, alpha: 10, a: 0.8, b: 2.5 }, horizonDays: 60 };

/** Loyal customers buy every `gap` days for the whole period; lapsing ones stop at a random point. */
function syntheticHistories(count: number): CustomerHistory[] {
  let seed = 11;
  const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  return Array.from({ length: count }, (_, c) => {
    const gap = 5 + Math.floor(rand() * 40);
    const stopMs = rand() < 0.5 ? T0 + 400 * DAY_MS : T0 + (60 + rand() * 300) * DAY_MS;
    const purchases = [];
    for (let t = T0 + rand() * 30 * DAY_MS; t < Math.min(stopMs, T0 + 400 * DAY_MS); t += gap * DAY_MS * (0.5 + rand())) {
      purchases.push({ ts: Math.floor(t), amount: 10 + rand() * 50, messageId: `m-${c}-${purchases.length}` });
    }
    const events: HistoryEvent[] = purchases.map((p, i) => ({
      ts: p.ts,
      messageId: p.messageId,
      type: "track",
      name: "Order Completed",
      stage: i === 0 ? ("conversion" as const) : ("post_conversion" as const),
    }));
    if (rand() < 0.2 && purchases.length > 0) {
      const ts = purchases.at(-1)!.ts + DAY_MS;
      events.push({ ts, messageId: `cancel-${c}`, type: "track", name: "Subscription Cancelled", stage: "churn_signal", signal: "cancellation" });
    }
    return { customerId: `c${c}`, firstSeenMs: purchases[0]?.ts ?? T0, purchases, events };
  }).filter((h) => h.purchases.length > 0);
}

describe("churn features", () => {
  it("should ignore everything at or after the as-of instant", () => {
    const [h] = syntheticHistories(1);
    const asOf = h!.purchases[2]!.ts;
    const a = churnFeatures(h!, asOf, population);
    const truncated = { ...h!, purchases: h!.purchases.slice(0, 2), events: h!.events.filter((e) => e.ts < asOf) };
    expect(churnFeatures(truncated, asOf, population).values).toEqual(a.values);
    expect(a.values.frequency).toBe(2);
  });

  it("should leave explicit signals out of the behaviour features (they are scored on top of any model)", () => {
    const h: CustomerHistory = {
      customerId: "x",
      firstSeenMs: T0,
      purchases: [{ ts: T0, amount: 20, messageId: "p1" }],
      events: [{ ts: T0 + DAY_MS, messageId: "e1", type: "track", name: "Payment Failed", stage: "churn_signal", signal: "failed_payment" }],
    };
    const withSignal = churnFeatures(h, T0 + 10 * DAY_MS, population).values;
    const without = churnFeatures({ ...h, events: [] }, T0 + 10 * DAY_MS, population).values;
    expect({ ...withSignal, days_since_last_activity: 0, activity_recent_window: 0, stage_changes: 0 }).toEqual({
      ...without,
      days_since_last_activity: 0,
      activity_recent_window: 0,
      stage_changes: 0,
    });
    expect(withSignal.recency_days).toBe(10);
    expect(withSignal.days_since_last_activity).toBe(9);
  });

  it("should compute basket features when quantities and products are known, NaN otherwise", () => {
    const h: CustomerHistory = {
      customerId: "b",
      firstSeenMs: T0,
      purchases: [
        { ts: T0, amount: 30, messageId: "p1", quantity: 6, products: ["A", "B"] },
        { ts: T0 + 10 * DAY_MS, amount: 10, messageId: "p2", quantity: 2, products: ["B", "C"] },
        { ts: T0 + 30 * DAY_MS, amount: 20, messageId: "p3", quantity: 2, products: ["A"] },
      ],
      events: [{ ts: T0 + 12 * DAY_MS, messageId: "r1", type: "track", name: "Order Refunded", stage: "post_conversion" }],
    };
    const f = churnFeatures(h, T0 + 40 * DAY_MS, population);
    expect(f.values.items_per_order).toBeCloseTo(10 / 3, 9);
    expect(f.values.spend_per_item).toBeCloseTo(6, 9);
    expect(f.values.distinct_products).toBe(3);
    expect(f.values.products_per_order).toBeCloseTo(5 / 3, 9);
    expect(f.values.repeat_product_share).toBeCloseTo(2 / 5, 9);
    expect(f.values.last_gap_days).toBe(20);
    expect(f.values.last_gap_ratio).toBeCloseTo(20 / 15, 9);
    expect(f.values.recency_tenure_ratio).toBeCloseTo(10 / 40, 9);
    const plain = churnFeatures({ ...h, purchases: h.purchases.map(({ ts, amount, messageId }) => ({ ts, amount, messageId })) }, T0 + 40 * DAY_MS, population);
    expect(Number.isNaN(plain.values.items_per_order)).toBe(true);
    expect(Number.isNaN(plain.values.distinct_products)).toBe(true);
  });

  it("should count engagement from whole days before the as-of day, and call it unknown when the history keeps none", () => {
    const day = Math.floor(T0 / DAY_MS);
    const h: CustomerHistory = {
      customerId: "e",
      firstSeenMs: T0 - 100 * DAY_MS,
      purchases: [{ ts: T0 - 90 * DAY_MS, amount: 10, messageId: "p" }],
      events: [],
      activity: [
        { day: day - 40, any: 3, views: 3 },
        { day: day - 10, any: 5, views: 2, carts: 2, searches: 1 },
        { day: day - 2, any: 1, support: 1 },
        { day, any: 9, views: 9 },
      ],
    };
    const v = churnFeatures(h, T0 + 3_600_000, population).values;
    expect(v.views_recent_window).toBe(2);
    expect(v.active_days_recent_window).toBe(2);
    expect(v.days_since_last_view).toBe(10);
    expect(v.carts_without_order).toBe(2);
    expect(v.support_recent_window).toBe(1);
    expect(v.views_trend).toBeCloseTo((2 - 3) / (2 + 3 + 1), 12);
    const unknown = churnFeatures({ ...h, activity: undefined }, T0, population).values;
    expect(Number.isNaN(unknown.views_recent_window)).toBe(true);
  });

  it("should give every feature a monotone direction (+1, −1 or 0)", () => {
    for (const name of FEATURE_NAMES) expect([1, -1, 0]).toContain(FEATURE_DIRECTION[name]);
  });
});

describe("churn labels", () => {
  const h: CustomerHistory = {
    customerId: "x",
    firstSeenMs: T0,
    purchases: [{ ts: T0 + 10 * DAY_MS, amount: 1, messageId: "p" }],
    events: [{ ts: T0 + 5 * DAY_MS, messageId: "c", type: "track", name: "Subscription Cancelled", stage: "churn_signal", signal: "cancellation" }],
  };
  const cases = [
    { name: "a purchase in the window keeps the customer", def: { ...definition, explicitCancellation: false }, from: T0, want: 0 },
    { name: "an explicit cancellation churns despite a purchase", def: definition, from: T0, want: 1 },
    { name: "no purchase in the window churns", def: definition, from: T0 + 20 * DAY_MS, want: 1 },
    { name: "activity counts when the basis is activity", def: { ...definition, basis: "activity" as const, explicitCancellation: false }, from: T0 + 4 * DAY_MS, want: 0 },
  ];
  it.each(cases)("should label: $name", ({ def, from, want }) => {
    expect(churnLabel(h, from, def)).toBe(want as 0 | 1);
  });
});

describe("gradient-boosted trees", () => {
  const n = 2000;
  const x0 = Float64Array.from({ length: n }, (_, i) => (i * 7919) % 1000);
  const x1 = Float64Array.from({ length: n }, (_, i) => (i * 104729) % 997);

  it("should learn a threshold rule and split the score difference exactly among the features (Shapley)", () => {
    const y = Float64Array.from(x0, (v) => (v > 600 ? 1 : 0));
    const model = trainGbm([x0, x1], y, { trees: 60, learningRate: 0.2, subsample: 1 });
    expect(gbmRawScore(model, [900, 10])).toBeGreaterThan(2);
    expect(gbmRawScore(model, [100, 10])).toBeLessThan(-2);
    const phi = gbmShapley(model, [900, 10], [100, 500], 2);
    expect(phi[0]! + phi[1]!).toBeCloseTo(gbmRawScore(model, [900, 10]) - gbmRawScore(model, [100, 500]), 9);
    expect(phi[0]!).toBeGreaterThan(Math.abs(phi[1]!));
  });

  it("should match brute-force Shapley values on a model with interactions", () => {
    const x2 = Float64Array.from({ length: n }, (_, i) => (i * 31) % 101);
    const y = Float64Array.from(x0, (v, i) => ((v > 500 && x1[i]! > 300) || x2[i]! > 90 ? 1 : 0));
    const model = trainGbm([x0, x1, x2], y, { trees: 30, maxDepth: 3, learningRate: 0.3, subsample: 1, minChildWeight: 5 });
    const x = [800, 700, 20];
    const r = [200, 100, 95];
    const f = (mask: number) => gbmRawScore(model, [0, 1, 2].map((k) => (mask & (1 << k) ? x[k]! : r[k]!)));
    const brute = [0, 1, 2].map((k) => {
      let phi = 0;
      for (let mask = 0; mask < 8; mask++) {
        if (mask & (1 << k)) continue;
        const size = [0, 1, 2].filter((j) => mask & (1 << j)).length;
        phi += (([1, 1, 2][size]! * [2, 1, 1][size]!) / 6) * (f(mask | (1 << k)) - f(mask));
      }
      return phi;
    });
    const phi = gbmShapley(model, x, r, 3);
    for (let k = 0; k < 3; k++) expect(phi[k]!).toBeCloseTo(brute[k]!, 9);
  });

  it("should keep the score monotone in a constrained feature, even against the data", () => {
    // The label mostly rises with x0; constrained to fall with it, the model never rises.
    const y = Float64Array.from(x0, (v, i) => (v > 700 || (v > 200 && v < 400 && i % 3 === 0) ? 1 : 0));
    const model = trainGbm([x0, x1], y, { trees: 80, learningRate: 0.2, subsample: 1, monotone: [-1, 0] });
    let previous = Infinity;
    for (let v = 0; v <= 1000; v += 10) {
      const s = gbmRawScore(model, [v, 500]);
      expect(s).toBeLessThanOrEqual(previous + 1e-12);
      previous = s;
    }
    const phi = gbmShapley(model, [900, 500], [100, 500], 2);
    expect(phi[0]!).toBeLessThanOrEqual(0);
  });
});

describe("churn model", () => {
  const histories = syntheticHistories(600);
  const scoreAt = T0 + 400 * DAY_MS;
  const training = buildTrainingSet(histories, scoreAt, definition, { snapshots: 2, stepDays: 60 });
  const model = trainChurnModel(training.rows, { definition, trainedAtMs: scoreAt, gbm: { trees: 80 } });
  const test = buildSnapshot(histories, scoreAt, definition, {
    labelled: false,
    neighbours: { kind: "index", index: snapshotNeighbourIndex(training.latest.rows) },
  });

  it("should separate churners from loyal customers on its validation fold", () => {
    expect(model.validation.auc).toBeGreaterThan(0.75);
    expect(model.modelVersion).toMatch(/^churn-gbm-\d{8}-[0-9a-f]{16}$/);
  });

  const reference = (() => {
    const stayers = training.latest.rows.filter((r) => r.label === 0);
    return Object.fromEntries(FEATURE_NAMES.map((f) => [f, stayers.map((r) => r.features.values[f]).sort((a, b) => a - b)[stayers.length >> 1]!])) as Record<FeatureName, number>;
  })();

  it("should survive a JSON round trip with the same predictions and explanations", () => {
    const copy = deserialiseChurnModel(serialiseChurnModel(model));
    for (const row of test.rows.slice(0, 20)) {
      expect(churnProbability(copy, row.features)).toBe(churnProbability(model, row.features));
      expect(explainModel(copy, row.features, reference)).toEqual(explainModel(model, row.features, reference));
    }
  });

  it("should blend with the BG/NBD logit when asked and credit it to bgnbd_p_no_purchase", () => {
    const blended = trainChurnModel(training.rows, { definition, trainedAtMs: scoreAt, gbm: { trees: 40 }, blendWeights: [0.5] });
    expect(blended.blend?.gbmWeight).toBe(0.5);
    const copy = deserialiseChurnModel(serialiseChurnModel(blended));
    const row = test.rows.find((r) => Math.abs(r.features.values.bgnbd_p_no_purchase - reference.bgnbd_p_no_purchase) > 0.1)!;
    expect(churnProbability(copy, row.features)).toBe(churnProbability(blended, row.features));
    const e = explainModel(blended, row.features, reference);
    expect(Math.abs(e.contributions.get("bgnbd_p_no_purchase")!)).toBeGreaterThan(0);
  });

  it("should explain each customer exactly: the contributions add up to their log-odds minus the reference's", () => {
    for (const row of test.rows.slice(0, 50)) {
      const e = explainModel(model, row.features, reference);
      const sum = [...e.contributions.values()].reduce((a, b) => a + b, 0);
      expect(e.referenceLogOdds + sum).toBeCloseTo(e.logOdds, 9);
      const p = churnProbability(model, row.features);
      expect(1 / (1 + Math.exp(-e.logOdds))).toBeCloseTo(p, 12);
    }
  });

  it("should never credit a monotone feature against its direction", () => {
    for (const row of test.rows) {
      const { contributions } = explainModel(model, row.features, reference);
      for (const [feature, c] of contributions) {
        const direction = FEATURE_DIRECTION[feature];
        const delta = row.features.values[feature] - reference[feature];
        if (direction === 0 || Math.abs(c) < 1e-12 || Number.isNaN(delta)) continue;
        expect(Math.sign(c)).toBe(Math.sign(direction * delta));
      }
    }
  });

  const tiers = [
    { p: 0.1, want: "low" },
    { p: 0.4999, want: "low" },
    { p: 0.5, want: "medium" },
    { p: 0.7499, want: "medium" },
    { p: 0.75, want: "high" },
  ];
  it.each(tiers)("should put probability $p in the $want tier", ({ p, want }) => {
    expect(riskTier(p)).toBe(want as "low" | "medium" | "high");
  });
});
