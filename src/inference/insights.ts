import { historyFromProfile } from "../../pipelines/history-from-profile";
import { profileBefore, type Profile } from "../../pipelines/profile";
import { recHistoryFromProfile } from "../../pipelines/rec-history-from-profile";
import { buyAgain, recommend, type Recommendation, type Recommender } from "../../pipelines/recommend";
import { CustomerNotFoundError, InvalidRequestError } from "../errors";
import type { Logger } from "../log/logger";
import type { Identities } from "../profiles/identities";
import type { ProfileStore } from "../profiles/profile-store";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";
import type { churnScorer } from "./churn-artifacts";
import type { ChurnPrediction } from "./churn-prediction";
import { strategyContext, type RelevantEvent } from "./insight-context";
import type { StrategyContext } from "./strategy-context";
import type { Insight } from "./insight-schema";
import type { StrategyWriter } from "./strategy-writer";
import type { LiveItemCounts } from "./live-item-counts";
import type { RecHistory } from "../../pipelines/recommend";

export type { Insight };

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
  /** Live popularity and co-purchase counts, for customers and items the fitted recommender does not know yet. */
  live?: LiveItemCounts;
  strategyWriter: StrategyWriter;
  retrieval?: Retrieval;
  recommendations: number;
  log: Logger;
};

export type InsightService = ReturnType<typeof createInsights>;

/** Churn, drivers, recommendations and a retention strategy for one customer, stored per customer. */
export function createInsights(d: InsightDeps) {
  /**
   * The insight as of now, stored as the customer's latest; or, with `asOfMs`, as of that moment
   * from the events before it (returned, not stored).
   */
  async function compute(id: string, options: { asOfMs?: number } = {}): Promise<Insight> {
    const found = await d.identities.find(id);
    if (!found) throw new CustomerNotFoundError(`no customer "${id}"`);
    const { customerId } = found;
    const nowMs = options.asOfMs ?? Date.now();
    const profile = options.asOfMs === undefined ? found.profile : profileBefore(found.profile, nowMs);
    if (profile.firstSeen === null) throw new InvalidRequestError(`customer "${id}" has no events before ${new Date(nowMs).toISOString()}`, { details: { path: "asOf" } });

    const scorer = await d.churn();
    const churn = scorer.score(historyFromProfile(profile), nowMs, profile.currency);
    const recommender = await d.recommender();
    const recHistory = recHistoryFromProfile(profile);
    const recommendations = await recommendFor(recommender, recHistory, options.asOfMs === undefined);
    const again = recommender ? buyAgain(recommender.rebuy, recHistory, d.recommendations, nowMs) : [];
    // Retrieval feeds the LLM's prompt; the playbook alone (no LLM configured) does without it.
    const retrieved =
      d.retrieval && d.strategyWriter.usesLlm ? await d.retrieval(profile, churn) : { relevantEvents: ownRiskEvents(profile), similarCustomersWhoStayed: [] };
    const written = await d.strategyWriter.write(strategyContext(profile, churn, nowMs, { ...retrieved, recommendations }));

    const insight: Insight = {
      customerId,
      churn,
      recommendations,
      buyAgain: again,
      strategy: written.strategy,
      source: written.source,
      ...(written.model ? { strategyModel: written.model } : {}),
      ...(written.fallbackReason ? { fallbackReason: written.fallbackReason } : {}),
      modelVersion: churn.modelVersion,
      computedAt: new Date().toISOString(),
      ...(options.asOfMs !== undefined ? { asOf: new Date(options.asOfMs).toISOString() } : {}),
      dataThrough: profile.lastSeen === null ? null : new Date(profile.lastSeen).toISOString(),
    };
    if (options.asOfMs === undefined)
      await d.redis.hset(d.keys.insight(customerId), "json", JSON.stringify(insight), "stale", "0", "tier", churn.riskTier);
    return insight;
  }

  /**
   * The fitted recommender's list, completed from the live counts when there is no model yet or
   * the customer bought items it does not know. Live counts are "now": an as-of answer does
   * without them.
   */
  async function recommendFor(model: Recommender | undefined, customer: RecHistory, mayUseLive: boolean): Promise<Recommendation[]> {
    const fitted = model ? recommend(model, customer, d.recommendations) : [];
    const knowsAll = model !== undefined && customer.events.every((e) => e.kind !== "purchase" || model.indexOf.has(e.itemId));
    if (!d.live || !mayUseLive || knowsAll) return fitted;
    return recommend(model, customer, d.recommendations, await d.live.evidenceFor(customer));
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
