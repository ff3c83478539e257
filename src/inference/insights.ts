import { historyFromProfile } from "../../pipelines/history-from-profile";
import type { Profile } from "../../pipelines/profile";
import { recHistoryFromProfile } from "../../pipelines/rec-history-from-profile";
import { recommend, type Recommendation, type Recommender } from "../../pipelines/recommend";
import { CustomerNotFoundError } from "../errors";
import type { Logger } from "../log/logger";
import type { Identities } from "../profiles/identities";
import type { ProfileStore } from "../profiles/profile-store";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";
import type { Predictions } from "../../pipelines/customer-predictions";
import type { ChurnArtifacts, churnScorer } from "./churn-artifacts";
import type { ChurnPrediction } from "./churn-model";
import { strategyContext, type RelevantEvent } from "./insight-context";
import { insightPredictions } from "./insight-predictions";
import type { StrategyContext } from "./strategy-context";
import type { RetentionStrategy, StrategySource } from "./strategy-schema";
import type { StrategyWriter } from "./strategy-writer";

export type Insight = {
  customerId: string;
  churn: ChurnPrediction;
  /** How many purchases, how soon, how valuable (pipelines/customer-predictions.ts). */
  predictions: Predictions;
  recommendations: Recommendation[];
  strategy: RetentionStrategy;
  source: StrategySource;
  strategyModel?: string;
  fallbackReason?: string;
  modelVersion: string;
  computedAt: string;
};

export type StoredInsight = { insight: Insight; stale: boolean };

export type ChurnScorer = ReturnType<typeof churnScorer>;

/** Retrieval from the customer's own memory and from similar customers; optional. */
export type Retrieval = (
  profile: Profile,
  churn: ChurnPrediction,
) => Promise<{ relevantEvents: RelevantEvent[]; similarCustomersWhoStayed: StrategyContext["similarCustomersWhoStayed"] }>;

export type InsightDeps = {
  redis: RedisClient;
  keys: Keyspace;
  profiles: ProfileStore;
  identities: Identities;
  churn: () => Promise<ChurnScorer>;
  recommender: () => Promise<Recommender | undefined>;
  /** The fitted artifacts the scorer came from (for the predictions). */
  artifacts: () => Promise<ChurnArtifacts | undefined>;
  strategyWriter: StrategyWriter;
  retrieval?: Retrieval;
  recommendations: number;
  log: Logger;
};

export type InsightService = ReturnType<typeof createInsights>;

/** Churn, drivers, recommendations and a retention strategy for one customer, stored per customer. */
export function createInsights(d: InsightDeps) {
  async function compute(id: string, nowMs = Date.now()): Promise<Insight> {
    const found = await d.identities.find(id);
    if (!found) throw new CustomerNotFoundError(`no customer "${id}"`);
    const { customerId, profile } = found;

    const scorer = await d.churn();
    const churn = scorer.score(historyFromProfile(profile), nowMs);
    const predictions = insightPredictions(historyFromProfile(profile), await d.artifacts(), nowMs, profile.currency);
    const recommender = await d.recommender();
    const recommendations = recommender ? recommend(recommender, recHistoryFromProfile(profile), d.recommendations) : [];
    // Retrieval feeds the LLM's prompt; the playbook alone (no LLM configured) does without it.
    const retrieved =
      d.retrieval && d.strategyWriter.usesLlm ? await d.retrieval(profile, churn) : { relevantEvents: ownRiskEvents(profile), similarCustomersWhoStayed: [] };
    const written = await d.strategyWriter.write(strategyContext(profile, churn, nowMs, { ...retrieved, recommendations, predictions }));

    const insight: Insight = {
      customerId,
      churn,
      predictions,
      recommendations,
      strategy: written.strategy,
      source: written.source,
      ...(written.model ? { strategyModel: written.model } : {}),
      ...(written.fallbackReason ? { fallbackReason: written.fallbackReason } : {}),
      modelVersion: churn.modelVersion,
      computedAt: new Date(nowMs).toISOString(),
    };
    await d.redis.hset(d.keys.insight(customerId), "json", JSON.stringify(insight), "stale", "0", "tier", churn.riskTier);
    return insight;
  }

  return {
    compute,
    get: (customerId: string) => readInsight(d.redis, d.keys, customerId),
    /** The risk tier of the latest insight alone (cheap: no JSON). */
    riskTier: async (customerId: string) => (await d.redis.hget(d.keys.insight(customerId), "tier")) ?? undefined,
    /** New events make the insight stale until the debounced re-score lands. */
    async markStale(customerId: string): Promise<void> {
      await d.redis.hset(d.keys.insight(customerId), "stale", "1");
    },
  };
}

export async function readInsight(redis: RedisClient, keys: Keyspace, customerId: string): Promise<StoredInsight | undefined> {
  const [json, stale] = await redis.hmget(keys.insight(customerId), "json", "stale");
  return json ? { insight: JSON.parse(json) as Insight, stale: stale === "1" } : undefined;
}

/** Without vector memory: the customer's latest churn signals and events, newest first. */
function ownRiskEvents(profile: Profile): RelevantEvent[] {
  const signals = profile.churnSignals.map((s) => ({ ts: s.ts, text: `churn signal: ${s.name}`, stage: "churn_signal", messageId: s.messageId }));
  const recent = profile.recentEvents.map((e) => ({ ts: e.ts, text: `${e.stage}: ${e.name}`, stage: e.stage, messageId: e.messageId }));
  const seen = new Set<string>();
  return [...signals, ...recent.reverse()].filter((e) => !seen.has(e.messageId) && seen.add(e.messageId)).slice(0, 10);
}
