// Fitting the churn model and the recommender takes seconds of CPU on a large population; run
// in its own thread so the worker's event loop keeps renewing job locks and serving jobs.
import type { Config } from "../config";
import { createProfileStore } from "../profiles/profile-store";
import { loadStageRules } from "../profiles/stage-rules";
import { createRedis, waitUntilReady } from "../redis/connection";
import { keyspace } from "../redis/keys";
import { churnDefinition } from "./churn-definition";
import { createLiveItemCounts } from "./live-item-counts";
import { modelSlots } from "./model-slots";
import { fitModels, loadPopulation, populationDataThrough, readDataStats, type RefitProgress, type RefitSummary } from "./refit";

/** `asOfMs`: fit as of this instant; absent: as of now, or the latest event when the data ends earlier. */
export type RefitRequest = { config: Config; asOfMs?: number; reason: string };
export type RefitReply = { kind: "progress"; progress: RefitProgress } | ({ kind: "done" } & RefitSummary) | { kind: "failed"; error: string };

declare const self: Worker;

self.onmessage = async (message: MessageEvent<RefitRequest>) => {
  const { config, reason } = message.data;
  const started = performance.now();
  const fittedAtMs = Date.now();
  const redis = createRedis(config, "worker");
  const progress = (p: RefitProgress) => self.postMessage({ kind: "progress", progress: p } satisfies RefitReply);
  try {
    await waitUntilReady(redis, 30_000);
    const keys = keyspace(config.LIFELINE_KEY_PREFIX, config.LIFELINE_STREAM_PARTITIONS);
    const stats = await readDataStats(redis, keys);
    const population = await loadPopulation(createProfileStore(redis, keys, loadStageRules(config)), (done, total) =>
      progress({ stage: "reading profiles", done, total }),
    );
    const asOfMs = message.data.asOfMs ?? Math.min(fittedAtMs, populationDataThrough(population) ?? fittedAtMs);
    const fitted = fitModels(population, asOfMs, churnDefinition(config), progress);
    await createLiveItemCounts(redis, keys).rebuildOnce(population);
    progress({ stage: "saving", done: 0, total: 1 });
    const slots = modelSlots(redis, keys);
    const summary: RefitSummary = {
      reason,
      customers: population.length,
      asOf: new Date(asOfMs).toISOString(),
      churn: { version: fitted.churn.version, mode: fitted.churn.model ? "learned" : "bgnbd", note: fitted.churn.note },
      recommender: { version: slots.recommender.versionOf(fitted.recommender), items: fitted.recommender.itemIds.length },
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
    await slots.save(fitted, { fittedAtMs, stats, summary });
    self.postMessage({ kind: "done", ...summary } satisfies RefitReply);
  } catch (err) {
    self.postMessage({ kind: "failed", error: (err as Error).stack ?? String(err) } satisfies RefitReply);
  } finally {
    redis.disconnect();
  }
};
