import { describe, expect, test } from "bun:test";
import { classifyRecovery, classifySignal, feedbackScore, signalDetail } from "../../pipelines/explicit-signals";
import { defaultStageRules, lifecycleStage, mergeStageRules } from "../../pipelines/lifecycle-stage";

const signals = [
  { name: "Subscription Cancelled", want: "cancellation" },
  { name: "Plan Cancelled", want: "cancellation" },
  { name: "Account Deleted", want: "cancellation" },
  { name: "Subscription Expired", want: "cancellation" },
  { name: "Subscription Downgraded", want: "downgrade" },
  { name: "Subscription Paused", want: "downgrade" },
  { name: "Complaint Filed", want: "complaint" },
  { name: "Complaint Submitted", want: "complaint" },
  { name: "Support Ticket Escalated", want: "complaint" },
  { name: "Payment Failed", want: "failed_payment" },
  { name: "Card Declined", want: "failed_payment" },
  { name: "Invoice Payment Failed", want: "failed_payment" },
  { name: "Order Refunded", want: "refund" },
  { name: "Order Cancelled", want: "refund" },
  { name: "Chargeback Received", want: "refund" },
  { name: "Email Unsubscribed", want: "unsubscribe" },
  { name: "Negative Feedback", want: "negative_feedback" },
  { name: "Order Completed", want: undefined },
  { name: "Support Ticket Opened", want: undefined },
  { name: "Product Viewed", want: undefined },
  { name: "Subscription Started", want: undefined },
  { name: "Complaint Resolved", want: undefined },
] as const;

describe("explicit signals", () => {
  for (const { name, want } of signals) test(`"${name}" → ${want ?? "no signal"}`, () => expect(classifySignal(name)).toBe(want));

  const feedback = [
    { name: "Product Reviewed", properties: { rating: 1 }, signal: "negative_feedback", recovery: undefined },
    { name: "Product Reviewed", properties: { rating: 2 }, signal: "negative_feedback", recovery: undefined },
    { name: "Product Reviewed", properties: { rating: 3 }, signal: undefined, recovery: undefined },
    { name: "Product Reviewed", properties: { rating: 5 }, signal: undefined, recovery: "positive_feedback" },
    { name: "NPS Survey Answered", properties: { score: 3 }, signal: "negative_feedback", recovery: undefined },
    { name: "NPS Survey Answered", properties: { score: 6 }, signal: "negative_feedback", recovery: undefined },
    { name: "NPS Survey Answered", properties: { score: 9 }, signal: undefined, recovery: "positive_feedback" },
    { name: "Survey Submitted", properties: { rating: "7", scale: 10 }, signal: undefined, recovery: undefined },
    { name: "Feedback Given", properties: { sentiment: "negative" }, signal: "negative_feedback", recovery: undefined },
    { name: "Product Reviewed", properties: {}, signal: undefined, recovery: undefined },
  ] as const;
  for (const { name, properties, signal, recovery } of feedback)
    test(`"${name}" with ${JSON.stringify(properties)} → ${signal ?? recovery ?? "neither"}`, () => {
      expect(classifySignal(name, properties)).toBe(signal);
      expect(classifyRecovery(name, properties)).toBe(recovery);
    });

  const recoveries = [
    { name: "Subscription Started", want: "resubscribe" },
    { name: "Subscription Renewed", want: "resubscribe" },
    { name: "Subscription Reactivated", want: "resubscribe" },
    { name: "Subscription Upgraded", want: "resubscribe" },
    { name: "Payment Succeeded", want: "payment_recovered" },
    { name: "Payment Method Updated", want: "payment_recovered" },
    { name: "Support Ticket Closed", want: "issue_resolved" },
    { name: "Complaint Resolved", want: "issue_resolved" },
    { name: "Subscription Cancelled", want: undefined },
    { name: "Order Completed", want: undefined },
  ] as const;
  for (const { name, want } of recoveries) test(`recovery "${name}" → ${want ?? "none"}`, () => expect(classifyRecovery(name)).toBe(want));

  test("a 1–5 star rating is scaled from its first star; a 0–10 score from 0", () => {
    expect(feedbackScore("Product Reviewed", { rating: 1 })).toEqual({ share: 0, tenPoint: false });
    expect(feedbackScore("Product Reviewed", { stars: 5 })).toEqual({ share: 1, tenPoint: false });
    expect(feedbackScore("NPS", { nps: 5 })).toEqual({ share: 0.5, tenPoint: true });
    expect(feedbackScore("Review", { rating: 4, out_of: 4 })).toEqual({ share: 1, tenPoint: false });
  });

  test("the detail keeps what the customer said, without e-mail addresses, links or phone numbers", () => {
    const detail = signalDetail({ reason: "too expensive, write to ada@example.com or call +44 20 7946 0958", url: "https://x.test", order_id: "123" })!;
    expect(detail).toContain("reason: too expensive");
    expect(detail).not.toContain("ada@example.com");
    expect(detail).not.toContain("7946");
    expect(signalDetail({ order_id: "123" })).toBeUndefined();
    expect(signalDetail({ text: "x".repeat(1000) })!.length).toBeLessThanOrEqual(160);
  });

  test("any event a rule recognises is a churn signal stage, unless the stage rules call it neutral or a conversion", () => {
    expect(lifecycleStage("Complaint Submitted", true, defaultStageRules)).toBe("churn_signal");
    expect(lifecycleStage("Product Reviewed", true, defaultStageRules, { rating: 1 })).toBe("churn_signal");
    expect(lifecycleStage("Product Reviewed", true, defaultStageRules, { rating: 4 })).toBe("post_conversion");
    const rules = mergeStageRules(defaultStageRules, { neutral: ["Subscription Paused"], conversions: ["Plan Cancelled"] });
    expect(lifecycleStage("Subscription Paused", true, rules)).toBe("post_conversion");
    expect(lifecycleStage("Plan Cancelled", false, rules)).toBe("conversion");
    expect(() => mergeStageRules(defaultStageRules, { neutral: ["Payment Failed"], churnSignals: ["Payment Failed"] })).toThrow(/both neutral and churn signal/);
  });
});
