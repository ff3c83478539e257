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
import type { ChurnArtifacts, churnScorer } from "./churn-artifacts";
import type { ChurnPrediction } from "./churn-prediction";
import { strategyContext, type RelevantEvent } from "./insight-context";
import { insightPredictions } from "./insight-predictions";
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
  /** The fitted artifacts the scorer came from (for the predictions). */
  artifacts: () => Promise<ChurnArtifacts | undefined>;
  strategyWriter: StrategyWriter;
  retrieval?: Retrieval;
  /** Past this, retrieval is skipped (named in fallbackReason). @defaultValue 2000 */
  retrievalTimeoutMs?: number;
  recommendations: number;
  log: Logger;
};

export type InsightService = ReturnType<typeof createInsights>;

/** Churn, drivers, recommendations and a retention strategy for one customer, stored per customer. */
export function createInsights(d: InsightDeps) {
  defineInsightCommands(d.redis);
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
    const history = historyFromProfile(profile);
    const churn = scorer.score(history, nowMs, profile.currency);
    const predictions = insightPredictions(history, await d.artifacts(), nowMs, profile.currency);
    const recommender = await d.recommender();
    const recHistory = recHistoryFromProfile(profile);
    const recommendations = await recommendFor(recommender, recHistory, options.asOfMs === undefined);
    const again = recommender ? buyAgain(recommender.rebuy, recHistory, d.recommendations, nowMs) : [];
    // The memory holds what happened since too: an as-of answer uses the trimmed profile's own events.
    const { skipped, ...retrieved } = await retrieveContext(d, profile, churn, options.asOfMs === undefined);
    const written = await d.strategyWriter.write(strategyContext(profile, churn, nowMs, { ...retrieved, recommendations, predictions }));
    const fallbackReason = [written.fallbackReason, skipped].filter(Boolean).join("; ");

    const insight: Insight = {
      customerId,
      churn,
      predictions,
      recommendations,
      buyAgain: again,
      strategy: written.strategy,
      source: written.source,
      ...(written.model ? { strategyModel: written.model } : {}),
      ...(fallbackReason ? { fallbackReason } : {}),
      modelVersion: churn.modelVersion,
      computedAt: new Date().toISOString(),
      ...(options.asOfMs !== undefined ? { asOf: new Date(options.asOfMs).toISOString() } : {}),
      dataThrough: profile.lastSeen === null ? null : new Date(profile.lastSeen).toISOString(),
    };
    if (options.asOfMs === undefined)
      await writeUnlessErased(d, customerId, "json", JSON.stringify(insight), "stale", "0", "tier", churn.riskTier);
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
  };
}

// An erasure may land while a score runs: its insight must not recreate the customer's key.
const HSET_UNLESS_ERASED = `if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1`;

type HsetClient = RedisClient & { lifelineHsetUnlessErased(insight: string, erased: string, ...fields: string[]): Promise<number> };

/**
 * A defined command goes by its SHA (EVAL would send the script with every call). Defined when
 * the service is made: ioredis' auto-pipelines made before a command exists cannot carry it.
 */
function defineInsightCommands(redis: RedisClient): void {
  if (!("lifelineHsetUnlessErased" in redis)) redis.defineCommand("lifelineHsetUnlessErased", { lua: HSET_UNLESS_ERASED, numberOfKeys: 2 });
}

async function writeUnlessErased(d: Pick<InsightDeps, "redis" | "keys">, customerId: string, ...fields: string[]): Promise<void> {
  await (d.redis as HsetClient).lifelineHsetUnlessErased(d.keys.insight(customerId), d.keys.erased(customerId), ...fields);
}

export async function readInsight(redis: RedisClient, keys: Keyspace, customerId: string): Promise<StoredInsight | undefined> {
  const [json, stale] = await redis.hmget(keys.insight(customerId), "json", "stale");
  return json ? { insight: JSON.parse(json) as Insight, stale: stale === "1" } : undefined;
}

type RetrievedContext = Awaited<ReturnType<Retrieval>> & { skipped?: string };

/**
 * Retrieval feeds the LLM's prompt only (the playbook alone does without it), so a score never
 * waits on it: when it fails (the embedding provider is down) or overruns its time, the strategy
 * is written from the customer's own recent events and `skipped` says why.
 */
async function retrieveContext(d: InsightDeps, profile: Profile, churn: ChurnPrediction, mayUseMemory: boolean): Promise<RetrievedContext> {
  const own = { relevantEvents: ownRiskEvents(profile), similarCustomersWhoStayed: [] };
  if (!d.retrieval || !d.strategyWriter.usesLlm || !mayUseMemory) return own;
  const timeoutMs = d.retrievalTimeoutMs ?? 2_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`took longer than ${timeoutMs} ms`)), timeoutMs)));
    return await Promise.race([d.retrieval(profile, churn), late]);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    d.log.warn({ customerId: profile.customerId, reason }, "memory retrieval skipped");
    return { ...own, skipped: `memory retrieval skipped: ${reason}` };
  } finally {
    clearTimeout(timer);
  }
}

/** Without vector memory: the customer's latest churn signals and events, newest first. */
function ownRiskEvents(profile: Profile): RelevantEvent[] {
  const signals = profile.churnSignals.map((s) => ({ ts: s.ts, text: `churn signal: ${s.name}`, stage: "churn_signal", messageId: s.messageId }));
  const recent = profile.recentEvents.map((e) => ({ ts: e.ts, text: `${e.stage}: ${e.name}`, stage: e.stage, messageId: e.messageId }));
  const seen = new Set<string>();
  return [...signals, ...recent.reverse()].filter((e) => !seen.has(e.messageId) && seen.add(e.messageId)).slice(0, 10);
}
