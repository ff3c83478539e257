import { describe, expect, it } from "bun:test";
import { fallbackStrategy } from "../../src/inference/fallback-playbook";
import { offerSizing, sizeOffers, type CustomerValue } from "../../src/inference/offer-sizing";
import { buildStrategyMessages } from "../../src/inference/strategy-prompt";
import { retentionStrategySchema } from "../../src/inference/strategy-schema";
import { strategyContext } from "../support/strategy-fixtures";

const value = (amount: number, percentile: number, expectedOrderValue = 40): CustomerValue => ({
  horizonDays: 90,
  amount,
  currency: "EUR",
  percentile,
  expectedOrderValue,
  expectedPurchases: amount / expectedOrderValue,
  pAlive: 0.7,
  nextOrderLikelyBy: "2025-07-01",
  overdue: true,
  basis: "customer",
});

describe("offers sized by predicted value", () => {
  const cases = [
    { name: "worth 5: no discount at all", v: value(5, 10), maxDiscountPct: 0, call: false },
    { name: "worth 120: a budget of 12 buys 30 % of a 40 order, capped at 20 %", v: value(120, 50), maxDiscountPct: 20, call: false },
    { name: "worth 60: a budget of 6 buys 15 % of a 40 order", v: value(60, 40), maxDiscountPct: 15, call: false },
    { name: "worth 5,000 and in the top 5 %: a call from a person", v: value(5000, 99, 500), maxDiscountPct: 20, call: true },
  ];
  it.each(cases)("$name", ({ v, maxDiscountPct, call }) => {
    const s = offerSizing(v);
    expect(s.maxIncentive).toBeCloseTo(v.amount * 0.1, 6);
    expect(s.maxDiscountPct).toBe(maxDiscountPct);
    expect(s.personalContact).toBe(call);
    expect(s.reason).toContain(`${v.amount.toFixed(2)} EUR`);
  });

  it("should take the win-back discount away from a customer worth 5, and say why", () => {
    const ctx = strategyContext({ value: value(5, 10) });
    const plan = fallbackStrategy({ ...ctx, churn: { ...ctx.churn, drivers: ctx.churn.drivers.filter((d) => d.feature === "recency_days") } });
    expect(retentionStrategySchema.safeParse(plan).success).toBe(true);
    expect(plan.actions.every((a) => !a.offer || !/%/.test(a.offer))).toBe(true);
    expect(plan.messageDraft).not.toMatch(/%/);
    expect(plan.rationale).toContain("Sized by predicted value: 5.00 EUR");
    expect(plan.rationale).toContain("no discount");
  });

  it("should open with a call from a person for a top-value customer and keep the plan valid", () => {
    const ctx = strategyContext({ value: value(5000, 99, 500) });
    const plan = fallbackStrategy({ ...ctx, churn: { ...ctx.churn, drivers: ctx.churn.drivers.filter((d) => d.feature === "recency_days") } });
    expect(retentionStrategySchema.safeParse(plan).success).toBe(true);
    expect(plan.actions[0]!.channel).toBe("call");
    expect(plan.actions[0]!.offer).toContain("500.00 EUR");
    expect(plan.actions.some((a) => a.offer === "15% off the next order")).toBe(true);
    expect(plan.rationale).toContain("a call from a person");
  });

  it("should keep the free part of an offer when the discount goes", () => {
    const ctx = strategyContext({ value: value(5, 10) });
    const cancelled = { ...ctx.churn.drivers[0]!, reason: "Has cancelled", feature: "cancellations", evidence: [] };
    const plan = fallbackStrategy({ ...ctx, churn: { ...ctx.churn, drivers: [cancelled] } });
    expect(plan.actions[0]!.offer).toBe("Pause for up to 2 months");
  });

  it("should cap a discount above the budget rather than drop it", () => {
    const plan = sizeOffers(
      { objective: "o", actions: [{ action: "a", channel: "email", offer: "20% off the next 3 months", timing: "now" }], messageDraft: "Take 20% off.", rationale: "r", citedMessageIds: [] },
      value(60, 40),
    );
    expect(plan.actions[0]!.offer).toBe("15% off the next 3 months");
    expect(plan.messageDraft).toBe("Take 15% off.");
  });

  it("should leave the plan alone without a prediction", () => {
    const plan = { objective: "o", actions: [{ action: "a", channel: "email" as const, offer: "20% off", timing: "now" }], messageDraft: "d", rationale: "r", citedMessageIds: [] };
    expect(sizeOffers(plan, undefined)).toEqual(plan);
  });

  it("should tell the LLM the value, the budget and the rule", () => {
    const [system, user] = buildStrategyMessages(strategyContext({ value: value(5, 10) }));
    expect(system!.content).toContain("maxIncentive");
    const data = JSON.parse(user!.content.slice(user!.content.indexOf("{")));
    expect(data.value).toMatchObject({ predictedValue: 5, currency: "EUR", maxIncentive: 0.5, maxDiscountPct: 0, personalContact: false });
    expect(data.value.sizingReason).toContain("no discount");
  });
});
