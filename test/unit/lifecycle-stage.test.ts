import { describe, expect, test } from "bun:test";
import { defaultStageRules, lifecycleStage, mergeStageRules, stageRulesSchema } from "../../pipelines/lifecycle-stage";

describe("lifecycleStage", () => {
  const cases = [
    { event: "Product Viewed", bought: false, want: "pre_conversion" },
    { event: "Signed Up", bought: false, want: "pre_conversion" },
    { event: "Order Completed", bought: false, want: "conversion" },
    { event: "Subscription Started", bought: false, want: "conversion" },
    { event: "Order Completed", bought: true, want: "post_conversion" },
    { event: "Product Viewed", bought: true, want: "post_conversion" },
    { event: "Subscription Cancelled", bought: true, want: "churn_signal" },
    { event: "Payment Failed", bought: false, want: "churn_signal" },
    { event: "Order Refunded", bought: true, want: "churn_signal" },
    { event: "Email Unsubscribed", bought: true, want: "churn_signal" },
    { event: "Support Ticket Opened", bought: true, want: "post_conversion" },
  ] as const;
  for (const { event, bought, want } of cases)
    test(`${event}, purchased before: ${bought} → ${want}`, () =>
      expect(lifecycleStage(event, bought, defaultStageRules)).toBe(want));
});

describe("mergeStageRules", () => {
  test("a file adds names to both sets and keeps the defaults", () => {
    const rules = mergeStageRules(defaultStageRules, { conversions: ["Trial Started"], churnSignals: ["Coupon Denied"] });
    expect(rules.conversions.has("Trial Started")).toBe(true);
    expect(rules.conversions.has("Order Completed")).toBe(true);
    expect(rules.churnSignals.has("Coupon Denied")).toBe(true);
    expect(rules.churnSignals.has("Payment Failed")).toBe(true);
  });

  test("names in the file are normalised like event names", () => {
    const rules = mergeStageRules(defaultStageRules, { churnSignals: ["support_ticket_opened", "rage_click"] });
    expect(lifecycleStage("Support Ticket Opened", true, rules)).toBe("churn_signal");
    expect(lifecycleStage("Rage Click", true, rules)).toBe("churn_signal");
  });

  test("listing a default under the other set moves it", () => {
    const rules = mergeStageRules(defaultStageRules, { conversions: ["Order Refunded"] });
    expect(rules.churnSignals.has("Order Refunded")).toBe(false);
    expect(lifecycleStage("Order Refunded", false, rules)).toBe("conversion");
  });

  test("the defaults are not modified", () => {
    mergeStageRules(defaultStageRules, { churnSignals: ["Order Completed"] });
    expect(defaultStageRules.conversions.has("Order Completed")).toBe(true);
    expect(defaultStageRules.churnSignals.has("Order Completed")).toBe(false);
  });

  const bad = [
    { file: { conversions: "Order Completed" }, message: "conversions" },
    { file: { conversion: [] }, message: "conversion" },
    { file: { churnSignals: [""] }, message: "churnSignals.0" },
    { file: { conversions: ["purchase"], churnSignals: ["Order Completed"] }, message: "both" },
    { file: null, message: "invalid stage rules" },
  ];
  for (const { file, message } of bad)
    test(`an invalid file ${JSON.stringify(file)} is rejected naming "${message}"`, () =>
      expect(() => mergeStageRules(defaultStageRules, file)).toThrow(message));

  test("config/stage-rules.example.json is a valid rules file", async () => {
    const file = await Bun.file(new URL("../../config/stage-rules.example.json", import.meta.url)).json();
    expect(stageRulesSchema.safeParse(file).success).toBe(true);
    expect(mergeStageRules(defaultStageRules, file).churnSignals.size).toBeGreaterThan(defaultStageRules.churnSignals.size);
  });
});
