import { describe, expect, test } from "bun:test";
import { cleanEvent, cleanEventSchema, parseNumber, type CleanEvent, type CleanResult } from "../../pipelines/clean-event";
import { buildVocabulary, defaultVocabulary } from "../../pipelines/event-names";
import { defaultStageRules } from "../../pipelines/lifecycle-stage";
import type { StoredEvent } from "../../pipelines/segment";

const T = "2024-05-01T12:00:00.000Z";
const R = "2024-05-01T12:00:02.000Z";

function track(event: string, properties: Record<string, unknown> = {}, extra: Partial<StoredEvent> = {}): StoredEvent {
  return { type: "track", event, properties, messageId: "m-1", userId: "u-1", timestamp: T, receivedAt: R, ...extra } as StoredEvent;
}

function ok(result: CleanResult): { event: CleanEvent; fixes: string[] } {
  if (!result.ok) throw new Error(`expected ok, got: ${result.reason}`);
  expect(cleanEventSchema.safeParse(result.event).success).toBe(true);
  return result;
}

describe("event names", () => {
  const cases = [
    { raw: "Product Added", want: "Product Added" },
    { raw: "product added", want: "Product Added" },
    { raw: "PRODUCT_ADDED", want: "Product Added" },
    { raw: "productAdded", want: "Product Added" },
    { raw: "add_to_cart", want: "Product Added" },
    { raw: "addToCart", want: "Product Added" },
    { raw: " add-to-cart ", want: "Product Added" },
    { raw: "Added Product", want: "Product Added" },
    { raw: "purchase", want: "Order Completed" },
    { raw: "buy", want: "Order Completed" },
    { raw: "checkout_completed", want: "Order Completed" },
    { raw: "order_completed", want: "Order Completed" },
    { raw: "Completed Order", want: "Order Completed" },
    { raw: "cart", want: "Cart Viewed" },
    { raw: "search", want: "Products Searched" },
    { raw: "subscription_canceled", want: "Subscription Cancelled" },
    { raw: "product_added_to_wishlist", want: "Product Added to Wishlist" },
    { raw: "support_ticket_opened", want: "Support Ticket Opened" },
    { raw: "user_did_thing", want: "User Did Thing" },
    { raw: "viewed_FAQ_page", want: "Viewed FAQ Page" },
    { raw: "videoPlayed", want: "Video Played" },
  ];
  for (const { raw, want } of cases)
    test(`track "${raw}" is named "${want}"`, () => expect(ok(cleanEvent(track(raw))).event.name).toBe(want));

  test("an unknown name is flagged name_unknown; a known one is not", () => {
    expect(ok(cleanEvent(track("user_did_thing"))).event.flags).toContain("name_unknown");
    expect(ok(cleanEvent(track("purchase"))).event.flags).not.toContain("name_unknown");
  });

  test("a caller vocabulary maps a producer's own names", () => {
    const vocab = buildVocabulary({ basket_add: "Product Added" });
    expect(ok(cleanEvent(track("basketAdd"), vocab)).event.name).toBe("Product Added");
    expect(ok(cleanEvent(track("basketAdd"), defaultVocabulary)).event.name).toBe("Basket Add");
  });

  test("a name of symbols only is kept as sent", () => expect(ok(cleanEvent(track("★"))).event.name).toBe("★"));
});

describe("call types", () => {
  const base = { messageId: "m-1", anonymousId: "a-1", timestamp: T, receivedAt: R };
  const cases = [
    { e: { ...base, type: "page", name: "Pricing", category: "Docs", properties: { path: "/pricing" } }, name: "Page Viewed", props: { name: "Pricing", category: "Docs", path: "/pricing" } },
    { e: { ...base, type: "screen", name: "Home" }, name: "Screen Viewed", props: { name: "Home" } },
    { e: { ...base, type: "identify", traits: { plan: "pro" } }, name: "Identify", props: {} },
    { e: { ...base, type: "alias", userId: "u-1", previousId: "a-1" }, name: "Alias", props: { previousId: "a-1" } },
    { e: { ...base, type: "group", groupId: "g-1", traits: { name: "Acme" } }, name: "Group", props: { groupId: "g-1", group: { name: "Acme" } } },
  ];
  for (const { e, name, props } of cases)
    test(`${e.type} becomes "${name}" with its fields in properties`, () => {
      const { event } = ok(cleanEvent(e as unknown as StoredEvent));
      expect(event.name).toBe(name);
      expect(event.properties).toEqual(props);
    });

  test("identify keeps its traits; other calls have none", () => {
    expect(ok(cleanEvent({ ...base, type: "identify", traits: { plan: "pro" } } as StoredEvent)).event.traits).toEqual({ plan: "pro" });
    expect(ok(cleanEvent(track("x"))).event.traits).toBeUndefined();
  });

  test("null userId becomes absent, anonymousId is kept", () => {
    const { event } = ok(cleanEvent(track("x", {}, { userId: null, anonymousId: "a-9" })));
    expect("userId" in event).toBe(false);
    expect(event.anonymousId).toBe("a-9");
  });
});

describe("numbers and currency", () => {
  const cases = [
    { raw: 12.5, want: 12.5, fixed: false },
    { raw: "12.50", want: 12.5, fixed: true },
    { raw: "1,200.00", want: 1200, fixed: true },
    { raw: "1.200,50", want: 1200.5, fixed: true },
    { raw: "12,5", want: 12.5, fixed: true },
    { raw: "$12.50", want: 12.5, fixed: true },
    { raw: "12.50 USD", want: 12.5, fixed: true },
    { raw: "abc", want: undefined, fixed: true },
    { raw: true, want: undefined, fixed: true },
    { raw: "1e400", want: undefined, fixed: true },
    { raw: -3, want: undefined, fixed: true },
  ];
  for (const { raw, want, fixed } of cases)
    test(`price ${JSON.stringify(raw)} → ${want ?? "dropped"}`, () => {
      const { event, fixes } = ok(cleanEvent(track("Product Viewed", { product_id: "p1", price: raw })));
      expect(event.properties.price).toBe(want);
      expect(event.products[0]!.price).toBe(want);
      expect(fixes.some((f) => f.startsWith("price:"))).toBe(fixed);
    });

  test("an unusable price is dropped with the reason", () => {
    const { fixes } = ok(cleanEvent(track("Product Viewed", { product_id: "p1", price: "abc" })));
    expect(fixes).toContain('price: "abc" is not a number; dropped');
  });

  test("parseNumber reads numeric text and rejects the rest", () => {
    expect(parseNumber(" 7 ")).toBe(7);
    expect(parseNumber("1,2,3")).toBeUndefined();
    expect(parseNumber(null)).toBeUndefined();
  });

  const quantities = [
    { raw: "2", want: 2 },
    { raw: 3, want: 3 },
    { raw: 2.5, want: undefined },
    { raw: 0, want: undefined },
    { raw: "many", want: undefined },
  ];
  for (const { raw, want } of quantities)
    test(`quantity ${JSON.stringify(raw)} → ${want ?? "dropped (product counts as 1)"}`, () => {
      const { event } = ok(cleanEvent(track("Product Added", { product_id: "p1", quantity: raw })));
      expect(event.properties.quantity).toBe(want);
      expect(event.products[0]!.quantity).toBe(want ?? 1);
    });

  const currencies = [
    { raw: "usd", want: "USD" },
    { raw: " gbp ", want: "GBP" },
    { raw: "dollars", want: undefined },
    { raw: 840, want: undefined },
  ];
  for (const { raw, want } of currencies)
    test(`currency ${JSON.stringify(raw)} → ${want ?? "dropped"}`, () => {
      const { event, fixes } = ok(cleanEvent(track("Order Completed", { revenue: 10, currency: raw })));
      expect(event.currency).toBe(want);
      expect(event.properties.currency).toBe(want);
      expect(fixes.some((f) => f.startsWith("currency:"))).toBe(true);
    });
});

describe("products and revenue", () => {
  test("an order's products are normalised and its revenue computed from price × quantity", () => {
    const { event, fixes } = ok(
      cleanEvent(
        track("purchase", {
          currency: "GBP",
          products: [
            { product_id: "85123A", name: "WHITE HANGING HEART T-LIGHT HOLDER", category: "home decor", price: "2.55", quantity: "6" },
            { sku: 71053, name: "WHITE METAL LANTERN", price: 3.39 },
          ],
        }),
      ),
    );
    expect(event.products).toEqual([
      { id: "85123A", name: "WHITE HANGING HEART T-LIGHT HOLDER", category: "home decor", price: 2.55, quantity: 6 },
      { id: "71053", name: "WHITE METAL LANTERN", price: 3.39, quantity: 1 },
    ]);
    expect(event.revenue).toBe(18.69);
    expect(event.flags).toContain("revenue_computed");
    expect(fixes).toContain("revenue: missing; computed 18.69 from products");
    expect(event.properties.products).toBeUndefined();
  });

  const revenueCases = [
    { props: { revenue: "20", total: 25, products: [{ id: "a", price: 1 }] }, want: 20, computed: false },
    { props: { total: "25.00", products: [{ id: "a", price: 1 }] }, want: 25, computed: false },
    { props: { products: [{ id: "a", price: 1 }, { id: "b" }] }, want: undefined, computed: false },
    { props: {}, want: undefined, computed: false },
    { props: { products: [{ id: "a", price: 0.1, quantity: 3 }] }, want: 0.3, computed: true },
  ];
  for (const { props, want, computed } of revenueCases)
    test(`Order Completed with ${JSON.stringify(props)} has revenue ${want}`, () => {
      const { event } = ok(cleanEvent(track("Order Completed", props)));
      expect(event.revenue).toBe(want);
      expect(event.flags.includes("revenue_computed")).toBe(computed);
    });

  test("revenue is not invented for non-order events", () => {
    const { event } = ok(cleanEvent(track("Cart Viewed", { products: [{ id: "a", price: 5 }] })));
    expect(event.revenue).toBeUndefined();
  });

  const productCases = [
    { item: { productId: "x", name: "N" }, want: { id: "x", name: "N", quantity: 1 }, fix: undefined },
    { item: { name: "Only Name" }, want: { id: "Only Name", name: "Only Name", quantity: 1 }, fix: "products[0]: no product_id or sku; using its name as id" },
    { item: { price: 3 }, want: undefined, fix: "products[0]: no product_id, sku or name; dropped" },
    { item: "p1", want: undefined, fix: "products[0]: not an object; dropped" },
    { item: { id: "x", price: "free" }, want: { id: "x", quantity: 1 }, fix: 'products[0].price: "free" is not a number; dropped' },
  ];
  for (const { item, want, fix } of productCases)
    test(`product ${JSON.stringify(item)} → ${want ? JSON.stringify(want) : "dropped"}`, () => {
      const { event, fixes } = ok(cleanEvent(track("Cart Viewed", { products: [item] })));
      expect(event.products).toEqual(want ? [want] : []);
      if (fix) expect(fixes).toContain(fix);
    });

  test("products that is not an array is dropped with a reason", () => {
    const { event, fixes } = ok(cleanEvent(track("Cart Viewed", { products: { id: "a" } })));
    expect(event.products).toEqual([]);
    expect(fixes).toContain("products: not an array; dropped");
  });

  test("a Product event's top-level fields become its one product", () => {
    const { event } = ok(cleanEvent(track("product_viewed", { product_id: 42, name: "Mug", category: "Kitchen", price: "9.99" })));
    expect(event.products).toEqual([{ id: "42", name: "Mug", category: "Kitchen", price: 9.99, quantity: 1 }]);
  });

  test("a non-product event's top-level fields are not read as a product", () => {
    expect(ok(cleanEvent(track("Products Searched", { name: "x", query: "mug" }))).event.products).toEqual([]);
  });
});

describe("times", () => {
  test("ts and receivedAt are epoch ms", () => {
    const { event } = ok(cleanEvent(track("x")));
    expect(event.ts).toBe(Date.parse(T));
    expect(event.receivedAt).toBe(Date.parse(R));
  });

  const cases = [
    { name: "an unparseable timestamp", extra: { timestamp: "yesterday" }, wantTs: Date.parse(R) },
    { name: "a pre-2000 timestamp from a live client (sentAt)", extra: { timestamp: "1970-01-01T00:00:00Z", sentAt: R }, wantTs: Date.parse(R) },
    {
      name: "a timestamp flagged in the future",
      extra: { timestamp: "2030-01-01T00:00:00Z", _lifeline: { flags: ["timestamp_in_future"] } },
      wantTs: Date.parse(R),
    },
    { name: "an unparseable receivedAt", extra: { receivedAt: "??" }, wantTs: Date.parse(T) },
  ];
  test("a pre-2000 timestamp without sentAt (a historical import) is kept", () => {
    const { event, fixes } = ok(cleanEvent(track("x", {}, { timestamp: "1997-01-01T00:00:00.000Z" })));
    expect(event.ts).toBe(Date.parse("1997-01-01T00:00:00Z"));
    expect(fixes).toEqual([]);
  });

  for (const { name, extra, wantTs } of cases)
    test(`${name} falls back to the other time, with a fix`, () => {
      const { event, fixes } = ok(cleanEvent(track("x", {}, extra as Partial<StoredEvent>)));
      expect(event.ts).toBe(wantTs);
      expect(fixes.length).toBe(1);
    });

  test("an event with no usable time at all is rejected with the reason", () => {
    const result = cleanEvent(track("x", {}, { timestamp: "nope", receivedAt: "never" }));
    expect(result).toEqual({ ok: false, reason: "timestamp and receivedAt: neither is a usable date-time" });
  });

  test("ingest flags are carried over", () => {
    const { event } = ok(cleanEvent(track("x", {}, { _lifeline: { flags: ["message_id_generated"] } })));
    expect(event.flags).toContain("message_id_generated");
  });
});

describe("stage and purity", () => {
  test("the stage is provisional from the caller's purchase history", () => {
    expect(ok(cleanEvent(track("purchase"))).event.stage).toBe("conversion");
    const after = cleanEvent(track("purchase"), defaultVocabulary, { rules: defaultStageRules, hasPurchasedBefore: true });
    expect(ok(after).event.stage).toBe("post_conversion");
    expect(ok(cleanEvent(track("subscription_cancelled"))).event.stage).toBe("churn_signal");
  });

  test("the stored event is not modified", () => {
    const stored = track("purchase", { price: "1.00", products: [{ id: "a", price: "2" }] });
    const before = structuredClone(stored);
    cleanEvent(stored);
    expect(stored).toEqual(before);
  });

  test("an event without any identity is rejected", () => {
    expect(cleanEvent(track("x", {}, { userId: null, anonymousId: null })).ok).toBe(false);
  });
});
