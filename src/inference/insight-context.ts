import type { Profile } from "../../pipelines/profile";
import type { Recommendation } from "../../pipelines/recommend";
import type { Predictions } from "../../pipelines/customer-predictions";
import type { ChurnPrediction } from "./churn-prediction";
import { customerValue } from "./offer-sizing";
import type { StrategyContext } from "./strategy-context";

const DAY_MS = 86_400_000;

export type RelevantEvent = StrategyContext["relevantEvents"][number];

/** What the strategy writer is told about one customer; pure. */
export function strategyContext(
  profile: Profile,
  churn: ChurnPrediction,
  nowMs: number,
  retrieved: {
    relevantEvents: RelevantEvent[];
    similarCustomersWhoStayed: StrategyContext["similarCustomersWhoStayed"];
    recommendations: Recommendation[];
    predictions?: Predictions;
  },
): StrategyContext {
  const since = nowMs - 14 * DAY_MS;
  const recent = profile.recentEvents.filter((e) => e.ts >= since);
  const byName = new Map<string, number>();
  for (const e of recent) byName.set(e.name, (byName.get(e.name) ?? 0) + 1);
  const recentActivity = recent.length
    ? `${[...byName].map(([name, n]) => `${n}× ${name}`).join(", ")} in the last 14 days`
    : "no activity in the last 14 days";
  return {
    customerId: profile.customerId,
    profileSummary: {
      stage: profile.currentStage,
      orders: profile.orders,
      revenue: Math.round(profile.revenue * 100) / 100,
      currency: profile.currency,
      tenureDays: profile.firstSeen === null ? 0 : Math.round((nowMs - profile.firstSeen) / DAY_MS),
      lastPurchaseAt: profile.lastPurchaseAt,
      recentActivity,
    },
    churn: { probability: churn.probability, riskTier: churn.riskTier, drivers: churn.drivers },
    relevantEvents: retrieved.relevantEvents,
    similarCustomersWhoStayed: retrieved.similarCustomersWhoStayed,
    recommendations: retrieved.recommendations.map((r) => ({ itemId: r.itemId, name: r.name, reason: r.reason })),
    ...(retrieved.predictions ? { value: customerValue(retrieved.predictions) } : {}),
  };
}
