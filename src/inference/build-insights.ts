import { scoringBudget, type Config } from "../config";
import type { Embedder } from "../embeddings/embedder";
import type { Logger } from "../log/logger";
import type { MemoryStore } from "../memory/memory-store";
import type { Identities } from "../profiles/identities";
import type { ProfileStore } from "../profiles/profile-store";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";
import { churnScorer } from "./churn-artifacts";
import { createCircuitBreaker } from "./circuit-breaker";
import { createInsights } from "./insights";
import type { LiveItemCounts } from "./live-item-counts";
import { memoryRetrieval } from "./memory-retrieval";
import { modelSlots } from "./model-slots";
import type { RefitProgress, RefitSummary } from "./refit";
import type { RefitReply, RefitRequest } from "./refit-thread";
import { createStrategyWriter, type StrategyOutcome } from "./strategy-writer";

export type InsightResources = {
  redis: RedisClient;
  keys: Keyspace;
  profiles: ProfileStore;
  identities: Identities;
  memory?: MemoryStore;
  embedder?: Embedder;
  live?: LiveItemCounts;
  log: Logger;
  onStrategyOutcome?: (o: StrategyOutcome, failure?: string) => void;
};

/** The inference side of a worker: model slots in Redis, refit, and the insight service. */
export function buildInsights(config: Config, r: InsightResources) {
  const slots = modelSlots(r.redis, r.keys);
  let refitting: Promise<RefitSummary> | undefined;
  /**
   * Fits on the whole population and publishes the models; one refit at a time per process.
   * `asOfMs`: as of that instant (default: now, or just after the latest event when the data ends earlier).
   */
  function refit(options: { asOfMs?: number; reason?: string; onProgress?: (p: RefitProgress) => void } = {}): Promise<RefitSummary> {
    refitting ??= new Promise<RefitSummary>((resolve, reject) => {
      const thread = new Worker(new URL("./refit-thread.ts", import.meta.url).href);
      thread.onmessage = ({ data }: MessageEvent<RefitReply>) => {
        if (data.kind === "progress") return options.onProgress?.(data.progress);
        thread.terminate();
        if (data.kind === "failed") return reject(new Error(`refit failed: ${data.error}`));
        const { kind: _kind, ...summary } = data;
        r.log.info(summary, "models refitted");
        resolve(summary);
      };
      thread.onerror = (event) => {
        thread.terminate();
        reject(new Error(`refit thread crashed: ${event.message}`));
      };
      thread.postMessage({ config, asOfMs: options.asOfMs, reason: options.reason ?? "requested" } satisfies RefitRequest);
    }).finally(() => (refitting = undefined));
    return refitting;
  }

  const budget = scoringBudget(config);
  const currentScorer = slots.churn.cached(churnScorer, config.LIFELINE_MODEL_REFRESH_MS);
  const currentRecommender = slots.recommender.cached((m) => m, config.LIFELINE_MODEL_REFRESH_MS);
  const currentArtifacts = slots.churn.cached((m) => m, config.LIFELINE_MODEL_REFRESH_MS);

  const insights = createInsights({
    redis: r.redis,
    keys: r.keys,
    profiles: r.profiles,
    identities: r.identities,
    async churn() {
      const scorer = await currentScorer();
      if (scorer) return scorer;
      // Nothing fitted yet (a new deployment): fit now, then score.
      await refit({ reason: "no model fitted yet" });
      const fitted = await currentScorer();
      if (!fitted) throw new Error("churn model missing right after a refit");
      return fitted;
    },
    recommender: currentRecommender,
    live: r.live,
    artifacts: currentArtifacts,
    strategyWriter: createStrategyWriter({
      baseURL: config.OPENAI_BASE_URL,
      apiKey: config.OPENAI_API_KEY,
      model: config.LIFELINE_LLM_MODEL,
      timeoutMs: config.LIFELINE_LLM_TIMEOUT_MS,
      budgetMs: budget.llmMs,
      maxRetries: config.LIFELINE_LLM_MAX_RETRIES,
      breaker: createCircuitBreaker({ failureThreshold: config.LIFELINE_LLM_BREAKER_FAILURES, cooldownMs: config.LIFELINE_LLM_BREAKER_COOLDOWN_MS }),
      onOutcome: r.onStrategyOutcome,
      log: r.log,
    }),
    retrieval:
      r.memory && r.embedder
        ? memoryRetrieval(r.memory, r.embedder, r.profiles, async (id) => (await insights.riskTier(id)) === "low")
        : undefined,
    retrievalTimeoutMs: budget.retrievalMs,
    recommendations: config.LIFELINE_RECOMMENDATIONS,
    log: r.log,
  });
  return { insights, refit, slots };
}
