import { describe, expect, test } from "bun:test";
import type { CleanEvent } from "../../pipelines/clean-event";
import { applyEvents, emptyProfile, mergeProfiles, profileLimits, profileSchema, stageFor, type Profile } from "../../pipelines/profile";

const B = Date.UTC(2024, 0, 1);
const MIN = 60_000;
const DAY = 86_400_000;
let seq = 0;

function ev(name: string, minute: number, extra: Partial<CleanEvent> = {}): CleanEvent {
  seq += 1;
  return {
    messageId: `m-${String(seq).padStart(6, "0")}`,
    type: "track",
    name,
    userId: "u-1",
    ts: B + minute * MIN,
    receivedAt: B + minute * MIN,
    properties: {},
    products: [],
    stage: "pre_conversion",
    flags: [],
    ...extra,
  };
}
const order = (minute: number, revenue: number, extra: Partial<CleanEvent> = {}) =>
  ev("Order Completed", minute, { revenue, currency: "GBP", products: [{ id: "p1", name: "Mug", quantity: 2, price: revenue / 2 }], ...extra });

/** The parts of a profile that must not depend on arrival order. */
const orderFree = (p: Profile) => {
  const { version: _v, ...rest } = p;
  return rest;
};

describe("applyEvents", () => {
  test("counts events by name and stage, and sums orders and revenue", () => {
    const p = applyEvents(emptyProfile("c1"), [ev("Product Viewed", 1), order(2, 10.1), order(3, 0.2), ev("Order Refunded", 4, { revenue: 5 })]);
    expect(p.eventCounts).toEqual({ "Product Viewed": 1, "Order Completed": 2, "Order Refunded": 1 });
    expect(p.stageCounts).toEqual({ pre_conversion: 1, conversion: 1, post_conversion: 1, churn_signal: 1 });
    expect(p.orders).toBe(2);
    expect(p.revenue).toBe(10.3);
    expect(p.refundedRevenue).toBe(5);
    expect(p.currency).toBe("GBP");
    expect(p.lastPurchaseAt).toBe(B + 3 * MIN);
    expect(p.purchases.map((x) => x.revenue)).toEqual([10.1, 0.2]);
    expect(p.items.p1).toEqual({ name: "Mug", viewed: 0, carted: 0, purchased: 4, lastAt: B + 3 * MIN });
    expect(profileSchema.safeParse(p).success).toBe(true);
  });

  test("stage transitions follow the customer from browsing to conversion to churn", () => {
    const events = [ev("Product Viewed", 1), ev("Product Viewed", 2), order(3, 10), ev("Product Viewed", 4), ev("Subscription Cancelled", 5)];
    const p = applyEvents(emptyProfile("c1"), events);
    expect(p.stageTransitions.map((t) => [t.from, t.to, t.messageId])).toEqual([
      ["pre_conversion", "conversion", events[2]!.messageId],
      ["conversion", "post_conversion", events[3]!.messageId],
      ["post_conversion", "churn_signal", events[4]!.messageId],
    ]);
    expect(p.currentStage).toBe("churn_signal");
    expect(p.churnSignals.map((c) => c.name)).toEqual(["Subscription Cancelled"]);
  });

  test("events applied one by one in reverse order give the same profile as in order", () => {
    const events = [
      ev("Product Viewed", 1, { anonymousId: "a-1", userId: undefined, products: [{ id: "p1", quantity: 1 }] }),
      ev("Product Added", 2, { products: [{ id: "p1", name: "Mug", quantity: 3 }] }),
      order(3, 12),
      ev("Identify", 4, { type: "identify", traits: { plan: "pro", city: "Leeds" } }),
      ev("Identify", 5, { type: "identify", traits: { plan: "team" } }),
      ev("Payment Failed", 6),
      ev("Product Viewed", 60 * 24 * 3),
    ];
    const inOrder = applyEvents(emptyProfile("c1"), events);
    const reversed = [...events].reverse().reduce((p, e) => applyEvents(p, [e]), emptyProfile("c1"));
    expect(orderFree(reversed)).toEqual(orderFree(inOrder));
    expect(inOrder.traits).toEqual({ plan: "team", city: "Leeds" });
    expect(inOrder.firstSeen).toBe(B + MIN);
    expect(inOrder.lastSeen).toBe(B + 3 * DAY);
    expect(inOrder.identities).toEqual({ userIds: ["u-1"], anonymousIds: ["a-1"] });
    expect(inOrder.recentEvents.map((r) => r.ts)).toEqual(events.map((e) => e.ts));
  });

  test("a late conversion re-stages the later events already applied", () => {
    const views = [ev("Product Viewed", 5), ev("Product Viewed", 6)];
    const before = applyEvents(emptyProfile("c1"), views);
    expect(before.stageCounts.pre_conversion).toBe(2);
    const p = applyEvents(before, [order(1, 10)]);
    expect(p.stageCounts).toEqual({ pre_conversion: 0, conversion: 1, post_conversion: 2, churn_signal: 0 });
    expect(p.recentEvents.map((r) => r.stage)).toEqual(["conversion", "post_conversion", "post_conversion"]);
    expect(p.currentStage).toBe("post_conversion");
    expect(p.stageTransitions.map((t) => t.to)).toEqual(["conversion", "post_conversion"]);
  });

  test("the earliest of two conversions is the conversion; the other is post-conversion", () => {
    const p = applyEvents(applyEvents(emptyProfile("c1"), [order(10, 5)]), [ev("Subscription Started", 2)]);
    expect(p.recentEvents.map((r) => [r.name, r.stage])).toEqual([
      ["Subscription Started", "conversion"],
      ["Order Completed", "post_conversion"],
    ]);
    expect(p.orders).toBe(1);
  });

  test("a trait keeps the value of the latest identify even when it arrives first", () => {
    const late = ev("Identify", 10, { type: "identify", traits: { plan: "team" } });
    const early = ev("Identify", 1, { type: "identify", traits: { plan: "free", country: "UK" } });
    const p = applyEvents(applyEvents(emptyProfile("c1"), [late]), [early]);
    expect(p.traits).toEqual({ plan: "team", country: "UK" });
    expect(p.traitsUpdatedAt).toEqual({ plan: B + 10 * MIN, country: B + MIN });
  });

  test("applying the same events twice doubles the counts (the caller must dedupe by messageId)", () => {
    const events = [ev("Product Viewed", 1), order(2, 10)];
    const once = applyEvents(emptyProfile("c1"), events);
    const twice = applyEvents(once, events);
    expect(twice.eventCounts["Product Viewed"]).toBe(2);
    expect(twice.orders).toBe(2);
    expect(twice.revenue).toBe(20);
  });

  test("the input profile is not modified and the version increases", () => {
    const start = applyEvents(emptyProfile("c1"), [ev("Product Viewed", 1)]);
    const snapshot = structuredClone(start);
    const next = applyEvents(start, [order(2, 10)]);
    expect(start).toEqual(snapshot);
    expect(next.version).toBe(start.version + 1);
    expect(applyEvents(start, [])).toBe(start);
  });

  test("folding into a deeply frozen profile changes nothing of it and matches a fold into a deep copy", () => {
    const deepFreeze = <T>(x: T): T => {
      if (x && typeof x === "object") for (const v of Object.values(Object.freeze(x))) deepFreeze(v);
      return x;
    };
    const mug = { id: "p1", name: "Mug", quantity: 1, price: 5 };
    const tee = { id: "p2", name: "Tee", category: "clothes", quantity: 1, price: 9 };
    const history = [
      ev("Product Viewed", 1, { products: [mug], anonymousId: "a-1" }),
      ev("Product Added", 2, { products: [mug, tee] }),
      order(3, 10),
      ev("Identify", 4, { type: "identify", traits: { plan: "pro" } }),
      ev("Subscription Cancelled", 5),
      ev("Email Opened", 6 + DAY / MIN),
    ];
    const start = deepFreeze(applyEvents(emptyProfile("c1"), history));
    const later = [
      ev("Product Viewed", 7, { products: [tee, mug] }),
      ev("Order Completed", 8 + DAY / MIN, { revenue: 9, currency: "EUR", products: [tee], userId: "u-2", anonymousId: "a-2" }),
      ev("Identify", 9, { type: "identify", traits: { plan: "free", city: "Leeds" } }),
      ev("Subscription Started", 0.5),
      ev("Support Ticket Opened", 10 + 500 * (DAY / MIN)),
    ];
    const next = applyEvents(start, later);
    expect(next).toEqual(applyEvents(structuredClone(start), later));
    expect(next.items.p2!.viewed).toBe(1);
    expect(start.items.p2!.viewed).toBe(0);
  });

  test("stageFor classifies an incoming event against the customer's history", () => {
    const p = applyEvents(emptyProfile("c1"), [order(5, 10)]);
    expect(stageFor(p, ev("Product Viewed", 1))).toBe("pre_conversion");
    expect(stageFor(p, ev("Product Viewed", 9))).toBe("post_conversion");
  });
});

describe("caps", () => {
  const cases = [
    {
      what: "recentEvents keeps the 50 latest",
      events: () => Array.from({ length: 60 }, (_, i) => ev("Product Viewed", i)),
      check: (p: Profile) => {
        expect(p.recentEvents).toHaveLength(profileLimits.recentEvents);
        expect(p.recentEvents[0]!.ts).toBe(B + 10 * MIN);
        expect(p.eventCounts["Product Viewed"]).toBe(60);
      },
    },
    {
      what: "churnSignals keeps the 50 latest",
      events: () => Array.from({ length: 55 }, (_, i) => ev("Payment Failed", i)),
      check: (p: Profile) => {
        expect(p.churnSignals).toHaveLength(profileLimits.churnSignals);
        expect(p.churnSignals[0]!.ts).toBe(B + 5 * MIN);
      },
    },
    {
      what: "purchases keeps the 500 latest while orders and revenue count all",
      events: () => Array.from({ length: 520 }, (_, i) => order(i, 1)),
      check: (p: Profile) => {
        expect(p.purchases).toHaveLength(profileLimits.purchases);
        expect(p.purchases[0]!.ts).toBe(B + 20 * MIN);
        expect(p.orders).toBe(520);
        expect(p.revenue).toBe(520);
      },
    },
    {
      what: "items keeps the 1000 most recent",
      events: () => Array.from({ length: 1005 }, (_, i) => ev("Product Viewed", i, { products: [{ id: `p${i}`, quantity: 1 }] })),
      check: (p: Profile) => {
        expect(Object.keys(p.items)).toHaveLength(profileLimits.items);
        expect(p.items.p4).toBeUndefined();
        expect(p.items.p5).toBeDefined();
      },
    },
    {
      what: "dailyActivity keeps the last 400 days",
      events: () => Array.from({ length: 450 }, (_, i) => ev("Signed In", i * 24 * 60)),
      check: (p: Profile) => {
        expect(Object.keys(p.dailyActivity)).toHaveLength(profileLimits.dailyActivityDays);
        expect(p.dailyActivity["2024-01-01"]).toBeUndefined();
        expect(p.dailyActivity[new Date(B + 449 * DAY).toISOString().slice(0, 10)]).toBe(1);
      },
    },
  ];
  for (const { what, events, check } of cases) test(what, () => check(applyEvents(emptyProfile("c1"), events())));

  test("an event older than the full recent window still counts but leaves transitions alone", () => {
    const full = applyEvents(emptyProfile("c1"), Array.from({ length: 50 }, (_, i) => ev("Product Viewed", 100 + i)));
    const p = applyEvents(full, [ev("Payment Failed", 1)]);
    expect(p.eventCounts["Payment Failed"]).toBe(1);
    expect(p.recentEvents.some((r) => r.name === "Payment Failed")).toBe(false);
    expect(p.stageTransitions).toEqual(full.stageTransitions);
    expect(p.churnSignals).toHaveLength(1);
  });
});

describe("mergeProfiles", () => {
  test("the anonymous history becomes part of the customer's", () => {
    const anon = applyEvents(emptyProfile("a-1"), [
      ev("Product Viewed", 1, { userId: undefined, anonymousId: "a-1", products: [{ id: "p1", name: "Mug", quantity: 1 }] }),
      ev("Product Added", 2, { userId: undefined, anonymousId: "a-1", products: [{ id: "p1", quantity: 1 }] }),
      ev("Identify", 2, { type: "identify", userId: undefined, anonymousId: "a-1", traits: { plan: "free", source: "ad" } }),
    ]);
    const customer = applyEvents(emptyProfile("u-1"), [
      order(3, 10),
      ev("Product Viewed", 4, { products: [{ id: "p1", quantity: 1 }] }),
      ev("Identify", 5, { type: "identify", traits: { plan: "pro" } }),
    ]);
    const p = mergeProfiles(customer, anon);
    expect(p.customerId).toBe("u-1");
    expect(p.identities).toEqual({ userIds: ["u-1"], anonymousIds: ["a-1"] });
    expect(p.firstSeen).toBe(B + MIN);
    expect(p.lastSeen).toBe(B + 5 * MIN);
    expect(p.eventCounts).toEqual({ "Product Viewed": 2, "Product Added": 1, "Order Completed": 1, Identify: 2 });
    expect(p.traits).toEqual({ plan: "pro", source: "ad" });
    expect(p.items.p1).toEqual({ name: "Mug", viewed: 2, carted: 1, purchased: 2, lastAt: B + 4 * MIN });
    expect(p.recentEvents.map((r) => r.ts)).toEqual([1, 2, 2, 3, 4, 5].map((m) => B + m * MIN));
    expect(p.stageTransitions.map((t) => [t.from, t.to])).toEqual([
      ["pre_conversion", "conversion"],
      ["conversion", "post_conversion"],
    ]);
    expect(p.stageCounts).toEqual({ pre_conversion: 3, conversion: 1, post_conversion: 2, churn_signal: 0 });
    expect(p.version).toBe(Math.max(customer.version, anon.version) + 1);
    expect(profileSchema.safeParse(p).success).toBe(true);
  });

  test("an anonymous purchase before the customer's re-stages the customer's conversion", () => {
    const anon = applyEvents(emptyProfile("a-1"), [order(1, 5, { userId: undefined, anonymousId: "a-1" })]);
    const customer = applyEvents(emptyProfile("u-1"), [order(10, 7)]);
    const p = mergeProfiles(customer, anon);
    expect(p.recentEvents.map((r) => r.stage)).toEqual(["conversion", "post_conversion"]);
    expect(p.firstConversion?.at).toBe(B + MIN);
    expect(p.orders).toBe(2);
    expect(p.revenue).toBe(12);
    expect(p.lastPurchaseAt).toBe(B + 10 * MIN);
  });

  test("merging an empty anonymous profile changes nothing but the version", () => {
    const customer = applyEvents(emptyProfile("u-1"), [ev("Product Viewed", 1), order(2, 3)]);
    expect(orderFree(mergeProfiles(customer, emptyProfile("a-1")))).toEqual(orderFree(customer));
  });
});
