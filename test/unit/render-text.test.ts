import { describe, expect, test } from "bun:test";
import type { CleanEvent } from "../../pipelines/clean-event";
import { renderEventText } from "../../pipelines/render-text";

const base: CleanEvent = {
  messageId: "6f1c2e0a-8a43-4c4e-9a0b-3f5d2c1b7e9d",
  type: "track",
  name: "Product Viewed",
  userId: "u-123456",
  ts: Date.UTC(2024, 4, 1),
  receivedAt: Date.UTC(2024, 4, 1),
  properties: {},
  products: [],
  stage: "pre_conversion",
  flags: [],
};
const ev = (extra: Partial<CleanEvent>): CleanEvent => ({ ...base, ...extra });

describe("renderEventText", () => {
  const cases = [
    {
      what: "an order with products, quantity and revenue",
      event: ev({
        name: "Order Completed",
        stage: "conversion",
        products: [{ id: "85123A", name: "WHITE HANGING HEART T-LIGHT HOLDER", category: "home decor", price: 2.55, quantity: 6 }],
        revenue: 15.3,
        currency: "GBP",
        properties: { order_id: "536365", revenue: 15.3, currency: "GBP" },
      }),
      want: "conversion: Order Completed — WHITE HANGING HEART T-LIGHT HOLDER (home decor) x6, 15.30 GBP",
    },
    {
      what: "a viewed product with its price",
      event: ev({ products: [{ id: "p1", name: "Mug", price: 9.5, quantity: 1 }], currency: "USD", properties: { product_id: "p1", price: 9.5, currency: "USD" } }),
      want: "pre_conversion: Product Viewed — Mug, 9.50 USD",
    },
    {
      what: "a search query",
      event: ev({ name: "Products Searched", properties: { query: "red running shoes" } }),
      want: "pre_conversion: Products Searched — query: red running shoes",
    },
    {
      what: "a cancellation reason and plan",
      event: ev({ name: "Subscription Cancelled", stage: "churn_signal", properties: { plan: "pro", reason: "too expensive", subscription_id: "sub_99" } }),
      want: "churn_signal: Subscription Cancelled — plan: pro, reason: too expensive",
    },
    {
      what: "a review rating and body",
      event: ev({ name: "Product Reviewed", stage: "post_conversion", products: [{ id: "p1", quantity: 1 }], properties: { rating: 2, review_body: "Broke after a week" } }),
      want: "post_conversion: Product Reviewed — rating: 2, review: Broke after a week",
    },
    {
      what: "a page with its name and the words of its path, without ids",
      event: ev({ type: "page", name: "Page Viewed", properties: { name: "Pricing", url: "https://shop.example/plans/team-annual/8f14e45f?utm_source=x", referrer: "https://google.com" } }),
      want: "pre_conversion: Page Viewed — Pricing, path: plans team annual",
    },
    {
      what: "an identify with a plan but no personal data",
      event: ev({ type: "identify", name: "Identify", traits: { plan: "team", email: "jo@example.com", name: "Jo" } }),
      want: "pre_conversion: Identify — plan: team",
    },
    {
      what: "a category list view",
      event: ev({ name: "Product List Viewed", properties: { category: "Kitchen", list_id: "l-1" } }),
      want: "pre_conversion: Product List Viewed — category: Kitchen",
    },
    {
      what: "an unknown event with no meaningful properties",
      event: ev({ name: "Video Played", properties: { video_id: "v1", position: 12 } }),
      want: "pre_conversion: Video Played",
    },
    {
      what: "ids, e-mails and uuids inside free text",
      event: ev({ name: "Complaint Filed", stage: "churn_signal", properties: { reason: "order 1234567 late, mail jo@x.io ref 6f1c2e0a-8a43-4c4e-9a0b-3f5d2c1b7e9d" } }),
      want: "churn_signal: Complaint Filed — reason: order late, mail ref",
    },
  ];
  for (const { what, event, want } of cases) test(`renders ${what}`, () => expect(renderEventText(event)).toBe(want));

  test("shows at most 5 products and says how many more", () => {
    const products = Array.from({ length: 8 }, (_, i) => ({ id: `p${i}`, name: `Item ${String.fromCharCode(65 + i)}`, quantity: 1 }));
    const text = renderEventText(ev({ name: "Cart Viewed", products }));
    expect(text).toBe("pre_conversion: Cart Viewed — Item A, Item B, Item C, Item D, Item E, +3 more");
  });

  test("contains no message id, user id or timestamp", () => {
    const text = renderEventText(ev({ name: "Order Completed", revenue: 5, properties: { order_id: "o-1" } }));
    expect(text).not.toContain(base.messageId);
    expect(text).not.toContain("u-123456");
    expect(text).not.toContain("2024");
  });

  test("long values are cut so one field cannot dominate", () => {
    const text = renderEventText(ev({ name: "Complaint Filed", properties: { reason: "slow ".repeat(100) } }));
    expect(text.length).toBeLessThan(200);
    expect(text.endsWith("…")).toBe(true);
  });

  test("is deterministic: the same event always gives the same text", () => {
    const e = ev({ name: "Products Searched", properties: { query: "mug", plan: "pro" } });
    expect(renderEventText(structuredClone(e))).toBe(renderEventText(e));
  });
});
