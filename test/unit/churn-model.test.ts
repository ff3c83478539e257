import { describe, expect, it } from "bun:test";
import { DAY_MS } from "../../pipelines/bgnbd.ts";
import { churnFeatures, FEATURE_NAMES, FEATURE_WORDING, type CustomerHistory, type HistoryEvent } from "../../pipelines/churn-features.ts";
import { gbmContributions, gbmRawScore, trainGbm } from "../../src/inference/churn-gbm.ts";
import {
  churnLabel,
  deserialiseChurnModel,
  predictChurn,
  riskTier,
  serialiseChurnModel,
  trainChurnModel,
  type ChurnDefinition,
} from "../../src/inference/churn-model.ts";
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
      events.push({ ts, messageId: `cancel-${c}`, type: "track", name: "Subscription Cancelled", stage: "churn_signal" });
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

  it("should count churn signals and cite them as evidence", () => {
    const h: CustomerHistory = {
      customerId: "x",
      firstSeenMs: T0,
      purchases: [{ ts: T0, amount: 20, messageId: "p1" }],
      events: [
        { ts: T0, messageId: "p1", type: "track", name: "Order Completed", stage: "conversion" },
        { ts: T0 + DAY_MS, messageId: "e1", type: "track", name: "Payment Failed", stage: "churn_signal" },
        { ts: T0 + 2 * DAY_MS, messageId: "e2", type: "track", name: "Complaint Filed", stage: "churn_signal" },
      ],
    };
    const f = churnFeatures(h, T0 + 10 * DAY_MS, population);
    expect(f.values.churn_signals).toBe(2);
    expect(f.values.failed_payments).toBe(1);
    expect(f.values.complaints).toBe(1);
    expect(f.values.is_in_churn_signal_stage).toBe(1);
    expect(f.evidence.failed_payments.map((e) => e.messageId)).toEqual(["e1"]);
    expect(f.values.recency_days).toBe(10);
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
    expect(f.values.refunds).toBe(1);
    expect(f.evidence.refunds.map((e) => e.messageId)).toEqual(["r1"]);
    expect(f.values.last_gap_days).toBe(20);
    expect(f.values.last_gap_ratio).toBeCloseTo(20 / 15, 9);
    expect(f.values.recency_tenure_ratio).toBeCloseTo(10 / 40, 9);
    const plain = churnFeatures({ ...h, purchases: h.purchases.map(({ ts, amount, messageId }) => ({ ts, amount, messageId })) }, T0 + 40 * DAY_MS, population);
    expect(Number.isNaN(plain.values.items_per_order)).toBe(true);
    expect(Number.isNaN(plain.values.distinct_products)).toBe(true);
  });

  it("should word every feature for a marketer", () => {
    for (const name of FEATURE_NAMES) expect(FEATURE_WORDING[name].up.length).toBeGreaterThan(0);
  });
});

describe("churn labels", () => {
  const h: CustomerHistory = {
    customerId: "x",
    firstSeenMs: T0,
    purchases: [{ ts: T0 + 10 * DAY_MS, amount: 1, messageId: "p" }],
    events: [{ ts: T0 + 5 * DAY_MS, messageId: "c", type: "track", name: "Subscription Cancelled", stage: "churn_signal" }],
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
  it("should learn a threshold rule and decompose the score into contributions", () => {
    const n = 2000;
    const x0 = Float64Array.from({ length: n }, (_, i) => (i * 7919) % 1000);
    const x1 = Float64Array.from({ length: n }, (_, i) => (i * 104729) % 997);
    const y = Float64Array.from(x0, (v) => (v > 600 ? 1 : 0));
    const model = trainGbm([x0, x1], y, { trees: 60, learningRate: 0.2, subsample: 1 });
    expect(gbmRawScore(model, [900, 10])).toBeGreaterThan(2);
    expect(gbmRawScore(model, [100, 10])).toBeLessThan(-2);
    const { bias, contributions } = gbmContributions(model, [900, 10], 2);
    expect(bias + contributions[0]! + contributions[1]!).toBeCloseTo(gbmRawScore(model, [900, 10]), 9);
    expect(Math.abs(contributions[0]!)).toBeGreaterThan(Math.abs(contributions[1]!));
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

  it("should survive a JSON round trip with the same predictions", () => {
    const copy = deserialiseChurnModel(serialiseChurnModel(model));
    for (const row of test.rows.slice(0, 20)) {
      expect(predictChurn(copy, row.features, scoreAt)).toEqual(predictChurn(model, row.features, scoreAt));
    }
  });

  it("should blend with the BG/NBD logit when asked and credit it to bgnbd_p_no_purchase", () => {
    const blended = trainChurnModel(training.rows, { definition, trainedAtMs: scoreAt, gbm: { trees: 40 }, blendWeights: [0.5] });
    expect(blended.blend?.gbmWeight).toBe(0.5);
    const copy = deserialiseChurnModel(serialiseChurnModel(blended));
    const row = test.rows[0]!;
    expect(predictChurn(copy, row.features, scoreAt)).toEqual(predictChurn(blended, row.features, scoreAt));
    const drivers = predictChurn(blended, row.features, scoreAt, { maxDrivers: 100, minWeight: 0 }).drivers;
    expect(drivers.some((d) => d.feature === "bgnbd_p_no_purchase")).toBe(true);
  });

  it("should explain a prediction with worded drivers citing the customer's own events", () => {
    const row = test.rows.find((r) => predictChurn(model, r.features, scoreAt).riskTier === "high")!;
    const prediction = predictChurn(model, row.features, scoreAt);
    expect(prediction.probability).toBeGreaterThanOrEqual(0.75);
    expect(prediction.drivers.length).toBeGreaterThan(0);
    const own = new Set([...row.history.purchases.map((p) => p.messageId), ...row.history.events.map((e) => e.messageId)]);
    for (const driver of prediction.drivers) {
      expect([FEATURE_WORDING[driver.feature].up, FEATURE_WORDING[driver.feature].down]).toContain(driver.reason);
      for (const e of driver.evidence) expect(own.has(e.messageId)).toBe(true);
    }
    const weights = prediction.drivers.map((d) => Math.abs(d.weight));
    expect(weights).toEqual([...weights].sort((a, b) => b - a));
    expect(prediction.computedAt).toBe(new Date(scoreAt).toISOString());
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
