import type { StrategyContext } from "../../src/inference/strategy-context";
import type { RetentionStrategy } from "../../src/inference/strategy-schema";

const DAY_MS = 86_400_000;
const NOW = Date.parse("2025-06-01T00:00:00Z");

/** A high-risk customer with a failed payment and a long gap since the last order. */
export function strategyContext(overrides: Partial<StrategyContext> = {}): StrategyContext {
  return {
    customerId: "cust-42",
    profileSummary: {
      stage: "churn_signal",
      orders: 7,
      revenue: 412.5,
      currency: "EUR",
      tenureDays: 540,
      lastPurchaseAt: NOW - 75 * DAY_MS,
      recentActivity: "2 sessions and 1 support ticket in the last 30 days",
    },
    churn: {
      probability: 0.82,
      riskTier: "high",
      drivers: [
        {
          reason: "Has not bought for a long time",
          feature: "recency_days",
          contribution: 0.9,
          evidence: [{ messageId: "evt-order-7", ts: NOW - 75 * DAY_MS, type: "track", name: "Order Completed" }],
        },
        {
          reason: "Has had failed payments",
          feature: "failed_payments",
          contribution: 0.4,
          evidence: [{ messageId: "evt-pay-fail-1", ts: NOW - 10 * DAY_MS, type: "track", name: "Payment Failed" }],
        },
      ],
    },
    relevantEvents: [
      { ts: NOW - 10 * DAY_MS, text: "Payment Failed: card declined (insufficient funds)", stage: "churn_signal", messageId: "evt-pay-fail-1" },
      { ts: NOW - 75 * DAY_MS, text: "Order Completed: running shoes, 89.90 EUR", stage: "post_conversion" },
    ],
    similarCustomersWhoStayed: [{ customerId: "cust-7", whatWorked: "A payment reminder by email, then 10% off the next order" }],
    recommendations: [{ itemId: "sku-socks", name: "Merino running socks", reason: "bought by similar runners" }],
    ...overrides,
  };
}

export const validStrategy: RetentionStrategy = {
  objective: "Recover the payment, then win the customer back",
  actions: [
    { action: "Ask the customer to update their card", channel: "email", offer: null, timing: "within 1 hour" },
    { action: "Win-back email with running socks", channel: "email", offer: "10% off the next order", timing: "day 3" },
  ],
  messageDraft: "Hi {first_name}, your last payment didn't go through…",
  rationale: "Failed payment (evt-pay-fail-1) and 75 days since the last order (evt-order-7).",
  citedMessageIds: ["evt-pay-fail-1", "evt-order-7"],
};
