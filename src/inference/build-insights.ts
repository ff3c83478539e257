import { deserialiseRecommender, serialiseRecommender, type Recommender } from "../../pipelines/recommend";
import type { Config } from "../config";
import type { Embedder } from "../embeddings/embedder";
import type { Logger } from "../log/logger";
import type { MemoryStore } from "../memory/memory-store";
import type { Identities } from "../profiles/identities";
import type { ProfileStore } from "../profiles/profile-store";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";
import { churnArtifactsSchema, churnScorer, type ChurnArtifacts } from "./churn-artifacts";
import type { ChurnDefinition } from "./churn-model";
import { createCircuitBreaker } from "./circuit-breaker";
import { createInsights } from "./insights";
import { memoryRetrieval } from "./memory-retrieval";
import { modelSlot } from "./model-store";
import { fitModels, loadPopulation } from "./refit";
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

export const churnDefinition = (config: Config): ChurnDefinition => ({
  horizonDays: config.LIFELINE_CHURN_HORIZON_DAYS,
  basis: config.LIFELINE_CHURN_BASIS,
  explicitCancellation: config.LIFELINE_CHURN_EXPLICIT_CANCELLATION,
});

/** The inference side of a worker: model slots in Redis, refit, and the insight service. */
export function buildInsights(config: Config, r: InsightResources) {
  const churnSlot = modelSlot<ChurnArtifacts>(r.redis, r.keys.churnArtifacts(), r.keys.churnArtifactsVersion(), {
    parse: (text) => churnArtifactsSchema.parse(JSON.parse(text)),
    serialise: (m) => JSON.stringify(m),
    version: (m) => `${m.version}@${m.trainedAt}`,
  });
  const recSlot = modelSlot<Recommender>(r.redis, r.keys.recommender(), r.keys.recommenderVersion(), {
    parse: deserialiseRecommender,
    serialise: serialiseRecommender,
    version: (m) => `recs-${m.builtAtMs}-${m.itemIds.length}-${m.customerIds.length}`,
  });

  let refitting: Promise<void> | undefined;
  /** Fits on the whole population and publishes the models; one refit at a time per process. */
  function refit(nowMs = Date.now()): Promise<void> {
    refitting ??= (async () => {
      const started = performance.now();
      const population = await loadPopulation(r.profiles);
      const { churn, recommender } = fitModels(population, nowMs, churnDefinition(config));
      await churnSlot.save(churn);
      await recSlot.save(recommender);
      r.log.info(
        { customers: population.length, churnModel: churn.version, learned: Boolean(churn.model), note: churn.note, items: recommender.itemIds.length, seconds: (performance.now() - started) / 1000 },
        "models refitted",
      );
    })().finally(() => (refitting = undefined));
    return refitting;
  }

  const currentScorer = churnSlot.cached(churnScorer, config.LIFELINE_MODEL_REFRESH_MS);
  const currentRecommender = recSlot.cached((m) => m, config.LIFELINE_MODEL_REFRESH_MS);

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
