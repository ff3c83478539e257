import { expect, test } from "bun:test";
import type { RiskTier } from "../../src/inference/churn-prediction";
import { fallbackStrategy, playForDriver } from "../../src/inference/fallback-playbook";
import type { StrategyContext, StrategyDriver } from "../../src/inference/strategy-context";
import { retentionStrategySchema } from "../../src/inference/strategy-schema";
import { strategyContext } from "../support/strategy-fixtures";

const driver = (reason: string, weight: number, feature?: string, messageId = `evt-${reason.length}-${weight}`): StrategyDriver => ({
  reason,
  contribution: weight,
  ...(feature ? { feature } : {}),
  evidence: [{ messageId, ts: 0, type: "track", name: reason }],
});
const ctxWith = (riskTier: RiskTier, drivers: StrategyDriver[], extra: Partial<StrategyContext> = {}) =>
  strategyContext({ churn: { probability: riskTier === "high" ? 0.9 : riskTier === "medium" ? 0.6 : 0.2, riskTier, drivers }, ...extra });

const cases = [
  {
    name: "high risk + failed payment → payment-update email first, SMS follow-up",
    ctx: ctxWith("high", [driver("Has not bought for a long time", 0.9, "recency_days"), driver("Has had failed payments", 0.2, "failed_payments")]),
    firstChannels: ["email", "sms"],
    firstAction: /payment method/,
  },
  {
    name: "recency → win-back offer featuring the top recommendation",
    ctx: ctxWith("medium", [driver("Has not bought for a long time", 0.7, "recency_days")]),
    firstChannels: ["email"],
    firstAction: /Win-back email featuring Merino running socks/,
    firstOffer: "10% off the next order",
  },
  {
    name: "high risk complaint → service recovery call",
    ctx: ctxWith("high", [driver("Has complained", 0.8, "complaints")]),
    firstChannels: ["call"],
    firstAction: /Service recovery call/,
  },
  {
    name: "a complaint known only by its wording → service recovery",
    ctx: ctxWith("high", [driver("Opened a support ticket about a late delivery", 0.8)]),
    firstChannels: ["call"],
    firstAction: /Service recovery call/,
  },
  {
    name: "high risk cancellation → call offering a pause",
    ctx: ctxWith("high", [driver("Has cancelled", 0.8, "cancellations")]),
    firstChannels: ["call"],
    firstAction: /pause/,
  },
  {
    name: "low risk → loyalty nurture in-app, no discount",
    ctx: ctxWith("low", [driver("Has not bought for a long time", 0.1, "recency_days"), driver("Spending less than in the period before", 0.05, "spend_trend")]),
    firstChannels: ["in_app"],
    firstAction: /Loyalty nurture/,
    firstOffer: null,
  },
  {
    name: "medium risk with no recognised driver → check-in",
    ctx: ctxWith("medium", [driver("Something the playbook has no rule for", 0.5)]),
    firstChannels: ["email"],
    firstAction: /check-in/,
    firstOffer: null,
  },
] as const;

for (const c of cases)
  test(c.name, () => {
    const s = fallbackStrategy(c.ctx);
    expect(retentionStrategySchema.safeParse(s).success).toBe(true);
    expect(s.actions.slice(0, c.firstChannels.length).map((a) => a.channel)).toEqual([...c.firstChannels]);
    expect(s.actions[0]!.action).toMatch(c.firstAction);
    if ("firstOffer" in c) expect(s.actions[0]!.offer).toBe(c.firstOffer);
  });

test("low-risk customers get no discount in any action", () => {
  const s = fallbackStrategy(
    ctxWith("low", [driver("Has not bought for a long time", 0.3, "recency_days"), driver("Has cancelled", 0.2, "cancellations"), driver("Low total spend", 0.1, "monetary_total_log")]),
  );
  for (const a of s.actions) expect(a.offer ?? "").not.toMatch(/%|off/);
});

test("a low-risk failed payment is still fixed before nurture", () => {
  const s = fallbackStrategy(ctxWith("low", [driver("Has had failed payments", 0.1, "failed_payments")]));
  expect(s.actions.map((a) => a.channel)).toEqual(["email", "in_app"]);
  expect(s.objective).toMatch(/payment/);
});

test("high risk gives a bigger win-back offer than medium", () => {
  const recency = [driver("Has not bought for a long time", 0.7, "recency_days")];
  expect(fallbackStrategy(ctxWith("high", recency)).actions[0]!.offer).toBe("15% off the next order");
  expect(fallbackStrategy(ctxWith("medium", recency)).actions[0]!.offer).toBe("10% off the next order");
});

test("cites the evidence of the drivers it acted on, and the rationale names them", () => {
  const s = fallbackStrategy(strategyContext());
  expect(s.citedMessageIds.sort()).toEqual(["evt-order-7", "evt-pay-fail-1"]);
  expect(s.rationale).toContain("Has had failed payments");
  expect(s.rationale).toContain("high (82%)");
});

test("drivers that lower risk (contribution ≤ 0) choose no play", () => {
  const s = fallbackStrategy(ctxWith("high", [driver("Has had failed payments", -0.5, "failed_payments")]));
  expect(s.actions[0]!.action).toMatch(/Win-back/);
});

test("is deterministic: the same context always gives the same plan", () => {
  expect(fallbackStrategy(strategyContext())).toEqual(fallbackStrategy(strategyContext()));
});

test("never more than 5 actions, even when every play applies", () => {
  const all = ["failed_payments", "complaints", "cancellations", "recency_days", "spend_trend"].map((f, i) => driver(f, 1 - i / 10, f));
  const s = fallbackStrategy(ctxWith("high", all));
  expect(retentionStrategySchema.safeParse(s).success).toBe(true);
  expect(s.actions.length).toBeLessThanOrEqual(5);
});

test("stays valid against the schema for extreme inputs (no drivers, huge names, odd ids)", () => {
  const tiers: RiskTier[] = ["low", "medium", "high"];
  const huge = "Ü".repeat(10_000);
  for (const tier of tiers)
    for (const drivers of [[], [driver(huge, 1, undefined, "x".repeat(500))], [driver("Has not bought for a long time", 1, "recency_days", "")]]) {
      const s = fallbackStrategy(ctxWith(tier, drivers, { recommendations: [{ itemId: huge, reason: huge }] }));
      const parsed = retentionStrategySchema.safeParse(s);
      expect(parsed.success ? "" : JSON.stringify(parsed.error.issues)).toBe("");
    }
});

const wording = [
  ["Has had failed payments", "payment"],
  ["Card declined on renewal", "payment"],
  ["Has complained", "service_recovery"],
  ["Has downgraded", "save_cancellation"],
  ["Spending less than in the period before", "spend_recovery"],
  ["Has not bought for a long time", "win_back"],
  ["Completely unrelated", undefined],
] as const;
for (const [reason, play] of wording) test(`"${reason}" → ${play}`, () => expect(playForDriver({ reason })).toBe(play));
