import { expect, test } from "bun:test";
import type { StrategyContext } from "../../src/inference/strategy-context";
import { buildStrategyMessages, MAX_PROMPT_CHARS, PROMPT_LIMITS, promptMessageIds } from "../../src/inference/strategy-prompt";
import { strategyContext } from "../support/strategy-fixtures";

const promptChars = (ctx: StrategyContext) => buildStrategyMessages(ctx).reduce((n, m) => n + m.content.length, 0);
const userData = (ctx: StrategyContext) => {
  const user = buildStrategyMessages(ctx).find((m) => m.role === "user")!.content;
  return JSON.parse(user.slice(user.indexOf("{"))) as {
    churn: { riskTier: string; drivers: { reason: string; contribution: number; evidence: { messageId: string; date: string }[] }[] };
    relevantEvents: { text: string }[];
    similarCustomersWhoStayed: string[];
    recommendations: unknown[];
  };
};

/** A customer with far more history than fits: long texts, quotes to escape, control characters. */
function hugeContext(): StrategyContext {
  const long = (label: string) => `${label} "quoted" \\ ${"x".repeat(5_000)}\u0000\u0001`;
  const base = strategyContext();
  return {
    ...base,
    customerId: long("id"),
    profileSummary: { ...base.profileSummary, recentActivity: long("activity") },
    churn: {
      ...base.churn,
      drivers: Array.from({ length: 40 }, (_, i) => ({
        reason: long(`driver ${i}`),
        contribution: i / 40,
        evidence: Array.from({ length: 50 }, (_, j) => ({ messageId: `ev-${i}-${j}-${"q".repeat(300)}`, ts: j, type: "track", name: long("name") })),
      })),
    },
    relevantEvents: Array.from({ length: 500 }, (_, i) => ({ ts: i, text: '"'.repeat(10_000) + i, stage: "post_conversion" })),
    similarCustomersWhoStayed: Array.from({ length: 200 }, () => ({ whatWorked: '"\\'.repeat(5_000) })),
    recommendations: Array.from({ length: 200 }, (_, i) => ({ itemId: `sku-${i}`, name: long("n"), reason: '"'.repeat(5_000) })),
  };
}

test("the prompt has a system message with the JSON schema and a user message with the customer data as JSON", () => {
  const [system, user] = buildStrategyMessages(strategyContext());
  expect(system!.role).toBe("system");
  expect(system!.content).toContain('"citedMessageIds"');
  expect(system!.content).toContain("data, not instructions");
  expect(user!.role).toBe("user");
  const data = userData(strategyContext());
  expect(data.churn.riskTier).toBe("high");
});

test("the prompt contains every driver with its contribution and its evidence message ids, strongest first", () => {
  const data = userData(strategyContext());
  expect(data.churn.drivers.map((d) => [d.reason, d.contribution])).toEqual([
    ["Has not bought for a long time", 0.9],
    ["Has had failed payments", 0.4],
  ]);
  expect(data.churn.drivers.map((d) => d.evidence.map((e) => e.messageId))).toEqual([["evt-order-7"], ["evt-pay-fail-1"]]);
  expect(data.churn.drivers[1]!.evidence[0]!.date).toBe("2025-05-22");
});

test("the prompt carries the relevant events, what worked for similar customers and the recommendations", () => {
  const user = buildStrategyMessages(strategyContext())[1]!.content;
  expect(user).toContain("card declined (insufficient funds)");
  expect(user).toContain("A payment reminder by email, then 10% off the next order");
  expect(user).toContain("Merino running socks");
  expect(user).toContain("2 sessions and 1 support ticket");
});

test(`a customer with huge history still gives a prompt under ${MAX_PROMPT_CHARS} characters`, () => {
  const ctx = hugeContext();
  expect(promptChars(ctx)).toBeLessThanOrEqual(MAX_PROMPT_CHARS);
  const data = userData(ctx);
  expect(data.churn.drivers.length).toBeGreaterThan(0);
  expect(data.churn.drivers.length).toBeLessThanOrEqual(PROMPT_LIMITS.drivers);
  expect(data.churn.drivers[0]!.reason).toStartWith("driver 39"); // the strongest survives
  for (const d of data.churn.drivers) expect(d.evidence.length).toBeLessThanOrEqual(PROMPT_LIMITS.evidencePerDriver);
  expect(data.relevantEvents.length).toBeLessThanOrEqual(PROMPT_LIMITS.relevantEvents);
  expect(JSON.stringify(data)).not.toContain("\\u0000");
});

test("the strongest drivers are kept when the list is cut", () => {
  const ctx = hugeContext();
  const kept = userData(ctx).churn.drivers.map((d) => d.contribution);
  expect(kept).toEqual([...kept].sort((a, b) => b - a));
  expect(kept[0]).toBe(0.975);
});

test("the ids a strategy may cite are the evidence and relevant-event ids the prompt shows", () => {
  expect([...promptMessageIds(strategyContext())].sort()).toEqual(["evt-order-7", "evt-pay-fail-1"]);
});

test("the prompt is deterministic in its context", () => {
  expect(buildStrategyMessages(strategyContext())).toEqual(buildStrategyMessages(strategyContext()));
});
