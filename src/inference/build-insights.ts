import type { Config } from "../config";
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
import { memoryRetrieval } from "./memory-retrieval";
import { modelSlots } from "./model-slots";
import type { RefitReply, RefitRequest } from "./refit-thread";
import { createStrategyWriter, type StrategyOutcome } from "./strategy-writer";

export type InsightResources = {
  redis: RedisClient;
  keys: Keyspace;
  profiles: ProfileStore;
  identities: Identities;
  memory?: MemoryStore;
  embedder?: Embedder;
  log: Logger;
  onStrategyOutcome?: (o: StrategyOutcome) => void;
};

/** The inference side of a worker: model slots in Redis, refit, and the insight service. */
export function buildInsights(config: Config, r: InsightResources) {
  const slots = modelSlots(r.redis, r.keys);
  let refitting: Promise<void> | undefined;
  /** Fits on the whole population and publishes the models; one refit at a time per process. */
  function refit(nowMs = Date.now()): Promise<void> {
    refitting ??= new Promise<void>((resolve, reject) => {
      const thread = new Worker(new URL("./refit-thread.ts", import.meta.url).href);
      thread.onmessage = ({ data }: MessageEvent<RefitReply>) => {
        thread.terminate();
        if (!data.ok) return reject(new Error(`refit failed: ${data.error}`));
        const { ok: _ok, ...summary } = data;
        r.log.info(summary, "models refitted");
        resolve();
      };
      thread.onerror = (event) => {
        thread.terminate();
        reject(new Error(`refit thread crashed: ${event.message}`));
      };
      thread.postMessage({ config, nowMs } satisfies RefitRequest);
    }).finally(() => (refitting = undefined));
    return refitting;
  }

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
      await refit();
      const fitted = await currentScorer();
      if (!fitted) throw new Error("churn model missing right after a refit");
      return fitted;
    },
    recommender: currentRecommender,
    artifacts: currentArtifacts,
    strategyWriter: createStrategyWriter({
      baseURL: config.OPENAI_BASE_URL,
      apiKey: config.OPENAI_API_KEY,
      model: config.LIFELINE_LLM_MODEL,
      timeoutMs: config.LIFELINE_LLM_TIMEOUT_MS,
      maxRetries: config.LIFELINE_LLM_MAX_RETRIES,
      breaker: createCircuitBreaker({ failureThreshold: config.LIFELINE_LLM_BREAKER_FAILURES, cooldownMs: config.LIFELINE_LLM_BREAKER_COOLDOWN_MS }),
      onOutcome: r.onStrategyOutcome,
      log: r.log,
    }),
    retrieval:
      r.memory && r.embedder
        ? memoryRetrieval(r.memory, r.embedder, r.profiles, async (id) => (await insights.riskTier(id)) === "low")
        : undefined,
    recommendations: config.LIFELINE_RECOMMENDATIONS,
    log: r.log,
  });
  return { insights, refit };
}
