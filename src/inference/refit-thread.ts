// Fitting the churn model and the recommender takes seconds of CPU on a large population; run
// in its own thread so the worker's event loop keeps renewing job locks and serving jobs.
import type { Config } from "../config";
import { createProfileStore } from "../profiles/profile-store";
import { loadStageRules } from "../profiles/stage-rules";
import { createRedis, waitUntilReady } from "../redis/connection";
import { keyspace } from "../redis/keys";
import { churnDefinition } from "./churn-definition";
import { modelSlots } from "./model-slots";
import { fitModels, loadPopulation } from "./refit";

export type RefitRequest = { config: Config; nowMs: number };
export type RefitReply =
  | { ok: true; customers: number; churnModel: string; learned: boolean; note?: string; items: number; seconds: number }
  | { ok: false; error: string };

declare const self: Worker;

self.onmessage = async (message: MessageEvent<RefitRequest>) => {
  const { config, nowMs } = message.data;
  const started = performance.now();
  const redis = createRedis(config, "worker");
  try {
    await waitUntilReady(redis, 30_000);
    const keys = keyspace(config.LIFELINE_KEY_PREFIX, config.LIFELINE_STREAM_PARTITIONS);
    const population = await loadPopulation(createProfileStore(redis, keys, loadStageRules(config)));
    const { churn, recommender } = fitModels(population, nowMs, churnDefinition(config));
    const slots = modelSlots(redis, keys);
    await slots.churn.save(churn);
    await slots.recommender.save(recommender);
    const reply: RefitReply = {
      ok: true,
      customers: population.length,
      churnModel: churn.version,
      learned: Boolean(churn.model),
      note: churn.note,
      items: recommender.itemIds.length,
      seconds: (performance.now() - started) / 1000,
    };
    self.postMessage(reply);
  } catch (err) {
    self.postMessage({ ok: false, error: (err as Error).stack ?? String(err) } satisfies RefitReply);
  } finally {
    redis.disconnect();
  }
};
