import { describe, expect, test } from "bun:test";
import { DAY_MS } from "../../pipelines/bgnbd";
import { FEATURE_DIRECTION, type CustomerHistory, type FeatureName, type HistoryEvent } from "../../pipelines/churn-features";
import { churnScorer, fitChurnArtifacts } from "../../src/inference/churn-artifacts";
import type { ChurnDefinition } from "../../src/inference/churn-model";
import type { ChurnPrediction } from "../../src/inference/churn-prediction";
import { activeSignals, fitSignalEffects, priorSignalEffects, type SignalFitRow } from "../../src/inference/signal-effects";

const NOW = Date.UTC(2026, 5, 1);
const definition: ChurnDefinition = { horizonDays: 60, basis: "purchase", explicitCancellation: true };

function rng(seed: number) {
  return () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** Regular buyers, some of whom stop; `days` of history before NOW. */
function population(count: number, days: number, seed = 7): CustomerHistory[] {
  const rand = rng(seed);
  return Array.from({ length: count }, (_, c) => {
    const gap = 5 + Math.floor(rand() * 30);
    const stop = rand() < 0.5 ? NOW : NOW - rand() * days * DAY_MS;
    const purchases = [];
    for (let t = NOW - days * DAY_MS + rand() * 20 * DAY_MS; t < stop; t += gap * DAY_MS * (0.5 + rand()))
      purchases.push({ ts: Math.floor(t), amount: 20 + rand() * 40, messageId: `p-${c}-${purchases.length}` });
    return { customerId: `c${c}`, firstSeenMs: purchases[0]?.ts ?? NOW - days * DAY_MS, purchases, events: [] };
  }).filter((h) => h.purchases.length > 0);
}

const event = (messageId: string, daysAgo: number, name: string, extra: Partial<HistoryEvent> = {}): HistoryEvent => ({
  ts: NOW - daysAgo * DAY_MS,
  messageId,
  type: "track",
  name,
  stage: "post_conversion",
  ...extra,
});

/** Bought once 11 days ago, complained, then cancelled. */
const unhappy: CustomerHistory = {
  customerId: "unhappy",
  firstSeenMs: NOW - 11 * DAY_MS,
  purchases: [{ ts: NOW - 11 * DAY_MS, amount: 30, messageId: "u-order" }],
  events: [
    event("u-order", 11, "Order Completed", { stage: "conversion" }),
    event("u-complaint", 6, "Complaint Submitted", { stage: "churn_signal", signal: "complaint", detail: "text: my parcel arrived two weeks late" }),
    event("u-cancel", 2, "Subscription Cancelled", { stage: "churn_signal", signal: "cancellation", detail: "reason: too expensive" }),
  ],
};

const allDrivers = (p: ChurnPrediction) => [...p.drivers, ...p.protective];

/** logit(p) = logit(base) + Σ contributions + other, up to the rounding of each contribution to 0.001. */
function expectAdditive(p: ChurnPrediction) {
  const sum = allDrivers(p).reduce((s, d) => s + d.contribution, 0) + p.explanation.otherContribution;
  const exactLogit = (q: number) => Math.log(q / (1 - q));
  expect(Math.abs(exactLogit(p.explanation.baseProbability) + sum - exactLogit(p.probability))).toBeLessThan(0.001 * (allDrivers(p).length + 2));
}

describe("churn scorer, before a learned model exists (BG/NBD mode)", () => {
  const small = population(60, 50);
  const artifacts = fitChurnArtifacts([...small, unhappy], NOW, definition);
  const scorer = churnScorer(artifacts);

  test("has too little labelled history for a learned model", () => {
    expect(artifacts.model).toBeUndefined();
  });

  test("a customer who bought once, complained and cancelled is high risk, with both signals as drivers citing their events", () => {
    const p = scorer.score(unhappy, NOW);
    expect(p.mode).toBe("bgnbd");
    expect(p.riskTier).toBe("high");
    const cancellation = p.drivers.find((d) => d.feature === "cancellations")!;
    const complaint = p.drivers.find((d) => d.feature === "complaints")!;
    expect(cancellation.evidence.map((e) => e.messageId)).toContain("u-cancel");
    expect(complaint.evidence.map((e) => e.messageId)).toContain("u-complaint");
    expect(cancellation.reason).toContain("reason: too expensive");
    expect(complaint.reason).toContain("Complaint Submitted");
    expect(cancellation.contribution).toBeGreaterThan(0);
    expect(complaint.contribution).toBeGreaterThan(0);
    expectAdditive(p);
  });

  test("without the signals the same customer scores lower, and has no signal drivers", () => {
    const quiet = scorer.score({ ...unhappy, events: unhappy.events.filter((e) => !e.signal) }, NOW);
    expect(quiet.probability).toBeLessThan(scorer.score(unhappy, NOW).probability);
    expect(allDrivers(quiet).some((d) => d.kind === "signal")).toBe(false);
  });

  test("a later re-subscription lowers the risk again; so does a new purchase", () => {
    const cancelled = scorer.score(unhappy, NOW).probability;
    const resubscribed = scorer.score({ ...unhappy, events: [...unhappy.events, event("u-resub", 1, "Subscription Started", { recovery: "resubscribe" })] }, NOW);
    const boughtAgain = scorer.score({ ...unhappy, purchases: [...unhappy.purchases, { ts: NOW - DAY_MS, amount: 25, messageId: "u-order-2" }] }, NOW);
    expect(resubscribed.probability).toBeLessThan(cancelled);
    expect(boughtAgain.probability).toBeLessThan(cancelled);
    const taken = resubscribed.drivers.find((d) => d.feature === "cancellations")!;
    expect(taken.reason).toContain("taken back since by Subscription Started");
    expect(taken.evidence.map((e) => e.messageId)).toContain("u-resub");
  });

  test("with explicit cancellation off, a cancellation still raises the risk but sets no floor", () => {
    const off = churnScorer(fitChurnArtifacts([...small, unhappy], NOW, { ...definition, explicitCancellation: false }));
    const on = scorer.score(unhappy, NOW);
    const p = off.score(unhappy, NOW);
    expect(p.drivers.some((d) => d.feature === "cancellations")).toBe(true);
    expect(p.probability).toBeLessThanOrEqual(on.probability);
  });

  test("behaviour drivers state the customer's own value and the reference, and agree in sign with the feature's direction", () => {
    for (const h of small.slice(0, 40)) {
      const p = scorer.score(h, NOW);
      expectAdditive(p);
      for (const d of p.drivers) expect(d.contribution).toBeGreaterThan(0);
      for (const d of p.protective) expect(d.contribution).toBeLessThan(0);
      for (const d of allDrivers(p).filter((x) => x.kind === "behaviour")) {
        const direction = FEATURE_DIRECTION[d.feature as FeatureName];
        if (direction !== 0 && d.value !== d.reference) expect(Math.sign(d.contribution)).toBe(Math.sign(direction * (d.value - d.reference)));
      }
    }
  });

  test("the one-order customer's frequency is stated as one order and never as buying often", () => {
    const p = scorer.score({ ...unhappy, events: [] }, NOW);
    const frequency = allDrivers(p).find((d) => d.feature === "frequency");
    if (frequency) {
      expect(frequency.value).toBe(1);
      expect(frequency.reason.startsWith("1 order in 11 days as a customer")).toBe(true);
      if (frequency.reference > 1) expect(frequency.contribution).toBeGreaterThan(0);
    }
  });
});

describe("churn scorer, cold start", () => {
  const artifacts = fitChurnArtifacts(population(60, 50), NOW, definition);
  const scorer = churnScorer(artifacts);
  const visitor: CustomerHistory = {
    customerId: "visitor",
    firstSeenMs: NOW - 5 * DAY_MS,
    purchases: [],
    events: [event("v-view", 5, "Product Viewed", { stage: "pre_conversion" }), event("v-complaint", 3, "Complaint Filed", { stage: "churn_signal", signal: "complaint" })],
  };

  test("a customer with no purchase gets the cold-start rate, and their signals still count", () => {
    const p = scorer.score(visitor, NOW);
    expect(p.mode).toBe("cold_start");
    expect(p.drivers.map((d) => d.feature)).toEqual(["complaints"]);
    expect(p.probability).toBeGreaterThan(p.explanation.baseProbability);
    expectAdditive(p);
  });
});

describe("churn scorer, learned model", () => {
  const histories = population(900, 400, 3);
  const withSignals = [...histories, { ...unhappy, firstSeenMs: NOW - 11 * DAY_MS }];
  const artifacts = fitChurnArtifacts(withSignals, NOW, definition);
  const scorer = churnScorer(artifacts);

  test("learns a model from the labelled snapshots", () => {
    expect(artifacts.model).toBeDefined();
    expect(artifacts.reference.kind).toBe("stayers");
  });

  test("the same signals are drivers in the learned mode too, and the cancellation makes the customer high risk", () => {
    const p = scorer.score(unhappy, NOW);
    expect(p.mode).toBe("learned");
    expect(p.riskTier).toBe("high");
    expect(p.drivers.map((d) => d.feature)).toEqual(expect.arrayContaining(["cancellations", "complaints"]));
    expectAdditive(p);
  });

  test("every prediction adds up, lists raising and protective factors apart, and never credits a monotone feature against its direction", () => {
    for (const h of histories.slice(0, 200)) {
      const p = scorer.score(h, NOW);
      expectAdditive(p);
      expect(p.drivers.every((d) => d.contribution > 0)).toBe(true);
      expect(p.protective.every((d) => d.contribution < 0)).toBe(true);
      for (const d of allDrivers(p)) {
        const direction = FEATURE_DIRECTION[d.feature as FeatureName];
        if (direction && d.value !== d.reference) expect(Math.sign(d.contribution)).toBe(Math.sign(direction * (d.value - d.reference)));
      }
      // A high-risk customer has at least one risk-raising driver.
      if (p.riskTier === "high" && p.explanation.baseProbability < 0.75) expect(p.drivers.length).toBeGreaterThan(0);
    }
  });
});

describe("signal effects", () => {
  test("are estimated from labelled customers who had the signal, near the truth when there are many", () => {
    const rand = rng(5);
    const start = priorSignalEffects(60, false);
    const rows: SignalFitRow[] = Array.from({ length: 4000 }, (_, i) => {
      const complained = i % 3 === 0;
      const z = -1 + (complained ? 1.8 : 0);
      const label = rand() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
      const signals = complained
        ? activeSignals({ customerId: `r${i}`, firstSeenMs: 0, purchases: [], events: [{ ts: NOW - 1, messageId: `s${i}`, type: "track", name: "Complaint Filed", stage: "churn_signal", signal: "complaint" }] }, NOW, start)
        : [];
      return { offset: -1, label, signals };
    });
    const fitted = fitSignalEffects(rows, start);
    expect(fitted.effects.complaint.source).toBe("fitted");
    expect(fitted.effects.complaint.logOdds).toBeGreaterThan(1.5);
    expect(fitted.effects.complaint.logOdds).toBeLessThan(2.1);
    expect(fitted.effects.cancellation).toEqual(start.effects.cancellation);
  });

  test("stay near the prior with few customers, and never go below the floor even when the data says the signal protects", () => {
    const start = priorSignalEffects(60, false);
    const rows: SignalFitRow[] = Array.from({ length: 300 }, (_, i) => ({
      offset: 0,
      label: 0,
      signals:
        i < 40
          ? activeSignals({ customerId: `r${i}`, firstSeenMs: 0, purchases: [], events: [{ ts: NOW - 1, messageId: `s${i}`, type: "track", name: "Order Refunded", stage: "churn_signal", signal: "refund" }] }, NOW, start)
          : [],
    }));
    const fitted = fitSignalEffects(rows, start);
    expect(fitted.effects.refund.logOdds).toBeGreaterThanOrEqual(0.1);
  });

  test("fade with age: a signal weighs half after one half-life", () => {
    const effects = priorSignalEffects(30, false);
    const history = (daysAgo: number): CustomerHistory => ({ customerId: "x", firstSeenMs: 0, purchases: [], events: [event("s", daysAgo, "Payment Failed", { signal: "failed_payment", stage: "churn_signal" })] });
    expect(activeSignals(history(0), NOW + 1, effects)[0]!.strength).toBeCloseTo(1, 6);
    expect(activeSignals(history(30), NOW, effects)[0]!.strength).toBeCloseTo(0.5, 9);
    expect(activeSignals(history(0), NOW, effects)).toEqual([]);
  });
});
