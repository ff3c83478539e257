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
      want: "Order Completed — WHITE HANGING HEART T-LIGHT HOLDER (home decor) x6, 15.30 GBP",
    },
    {
      what: "a viewed product with its price",
      event: ev({ products: [{ id: "p1", name: "Mug", price: 9.5, quantity: 1 }], currency: "USD", properties: { product_id: "p1", price: 9.5, currency: "USD" } }),
      want: "Product Viewed — Mug, 9.50 USD",
    },
    {
      what: "a search query",
      event: ev({ name: "Products Searched", properties: { query: "red running shoes" } }),
      want: "Products Searched — query: red running shoes",
    },
    {
      what: "a cancellation reason and plan",
      event: ev({ name: "Subscription Cancelled", stage: "churn_signal", properties: { plan: "pro", reason: "too expensive", subscription_id: "sub_99" } }),
      want: "Subscription Cancelled — plan: pro, reason: too expensive",
    },
    {
      what: "a review rating and body",
      event: ev({ name: "Product Reviewed", stage: "post_conversion", products: [{ id: "p1", quantity: 1 }], properties: { rating: 2, review_body: "Broke after a week" } }),
      want: "Product Reviewed — rating: 2, review body: Broke after a week",
    },
    {
      what: "a page with its name and the words of its path, without ids",
      event: ev({ type: "page", name: "Page Viewed", properties: { name: "Pricing", url: "https://shop.example/plans/team-annual/8f14e45f?utm_source=x", referrer: "https://google.com" } }),
      want: "Page Viewed — Pricing, path: plans team annual",
    },
    {
      what: "an identify with a plan but no personal data",
      event: ev({ type: "identify", name: "Identify", traits: { plan: "team", email: "jo@example.com", name: "Jo" } }),
      want: "Identify — plan: team",
    },
    {
      what: "a category list view",
      event: ev({ name: "Product List Viewed", properties: { category: "Kitchen", list_id: "l-1" } }),
      want: "Product List Viewed — category: Kitchen",
    },
    {
      what: "an unknown event with no meaningful properties",
      event: ev({ name: "Video Played", properties: { video_id: "v1", position: 12 } }),
      want: "Video Played",
    },
    {
      what: "ids, e-mails and uuids inside free text",
      event: ev({ name: "Complaint Filed", stage: "churn_signal", properties: { reason: "order 1234567 late, mail jo@x.io ref 6f1c2e0a-8a43-4c4e-9a0b-3f5d2c1b7e9d" } }),
      want: "Complaint Filed — reason: order late, mail ref",
    },
  ];
  for (const { what, event, want } of cases) test(`renders ${what}`, () => expect(renderEventText(event)).toBe(want));

  const written = [
    {
      what: "free text under any field name, in the producer's order",
      event: ev({ name: "Complaint Submitted", properties: { text: "my parcel arrived two weeks late and the box was damaged", order_id: "ord-10021" } }),
      want: "Complaint Submitted — text: my parcel arrived two weeks late and the box was damaged",
    },
    {
      what: "a field name no list foresaw, camelCase split into words",
      event: ev({ name: "Ticket Closed", properties: { resolutionSummary: "replaced the charger", deliveryIssue: "courier lost the parcel" } }),
      want: "Ticket Closed — resolution summary: replaced the charger, delivery issue: courier lost the parcel",
    },
    {
      what: "ids, URLs, e-mails, phone numbers, tokens and tracking fields left out by name or by look",
      event: ev({
        name: "Support Ticket Created",
        properties: {
          ticket_id: "T-7781", customerEmail: "jo@x.io", callback_phone: "+44 20 7946 0958", utm_source: "newsletter", gclid: "Cj0KCQ",
          session: "abc", api_token: "sk_live_0123456789abcdefghijklmnop", link: "https://x.io/t/1", reference: "ord-10021",
          subject: "Refund request", body: "call me on +44 20 7946 0958 or mail jo@x.io, see https://x.io/t/1",
        },
      }),
      want: "Support Ticket Created — subject: Refund request, body: call me on or mail see",
    },
    {
      what: "personal data in traits left out, what the customer is kept",
      event: ev({ type: "identify", name: "Identify", traits: { first_name: "Jo", name: "Jo Smith", email: "jo@x.io", phone: "0207 946 0958", address: { city: "Leeds" }, company_name: "Acme Ltd", industry: "logistics", title: "buyer" } }),
      want: "Identify — company name: Acme Ltd, industry: logistics, title: buyer",
    },
    {
      what: "numbers only where they read as a judgement, codes only where the code is the choice",
      event: ev({ name: "Survey Answered", properties: { rating: 4, duration: 93, coupon: "WELCOME10", promo_code: "SPRING24", batch: "b-77", tags: ["slow app", "x-1", "pricing"] } }),
      want: "Survey Answered — rating: 4, coupon: WELCOME10, promo code: SPRING24, tags: slow app, pricing",
    },
  ];
  for (const { what, event, want } of written) test(`renders ${what}`, () => expect(renderEventText(event)).toBe(want));

  test("shows at most 5 products and says how many more", () => {
    const products = Array.from({ length: 8 }, (_, i) => ({ id: `p${i}`, name: `Item ${String.fromCharCode(65 + i)}`, quantity: 1 }));
    const text = renderEventText(ev({ name: "Cart Viewed", products }));
    expect(text).toBe("Cart Viewed — Item A, Item B, Item C, Item D, Item E, +3 more");
  });

  test("contains no message id, user id or timestamp", () => {
    const text = renderEventText(ev({ name: "Order Completed", revenue: 5, properties: { order_id: "o-1" } }));
    expect(text).not.toContain(base.messageId);
    expect(text).not.toContain("u-123456");
    expect(text).not.toContain("2024");
  });

  test("long values are cut so one field cannot dominate, and the whole text is bounded", () => {
    const text = renderEventText(ev({ name: "Complaint Filed", properties: { reason: "slow ".repeat(100), detail: "late ".repeat(100) } }));
    expect(text).toContain("reason: slow");
    expect(text).toContain("detail: late");
    expect(text.length).toBeLessThan(2 * 300 + 60);
    const huge = renderEventText(ev({ name: "Form Sent", properties: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`field${"abcdefghij"[i]}`, "word ".repeat(80)])) }));
    expect(huge.length).toBeLessThanOrEqual(800);
    expect(huge.endsWith("…")).toBe(true);
  });

  test("the lifecycle stage is not part of the text (it is a payload filter)", () => {
    for (const stage of ["pre_conversion", "conversion", "post_conversion", "churn_signal"] as const)
      expect(renderEventText(ev({ name: "Complaint Submitted", stage, properties: { text: "late" } }))).toBe("Complaint Submitted — text: late");
  });

  test("is deterministic: the same event always gives the same text", () => {
    const e = ev({ name: "Products Searched", properties: { query: "mug", plan: "pro" } });
    expect(renderEventText(structuredClone(e))).toBe(renderEventText(e));
  });
});
