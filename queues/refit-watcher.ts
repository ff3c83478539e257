import type { Queue } from "bullmq";
import type { Config } from "../src/config";
import type { modelSlots } from "../src/inference/model-slots";
import { readDataStats } from "../src/inference/refit";
import { refitPolicy, refitReason } from "../src/inference/refit-policy";
import type { Logger } from "../src/log/logger";
import type { RedisClient } from "../src/redis/connection";
import type { Keyspace } from "../src/redis/keys";
import { backedUp, type StageBacklog } from "./backlog";
import { enqueueRefit, type InferenceJob } from "./inference.queue";

/**
 * Checks at start and then every LIFELINE_REFIT_CHECK_MS whether the models are missing, stale or
 * fitted on much less data than there is now, and asks for a refit when they are (one job for all
 * workers: automatic refits share a deduplication id).
 */
export function createRefitWatcher(d: {
  redis: RedisClient;
  keys: Keyspace;
  queue: Queue<InferenceJob>;
  slots: ReturnType<typeof modelSlots>;
  config: Config;
  log: Logger;
  /**
   * The stages before scoring: while one is backed up (a big import), automatic refits wait.
   * A refit then would fit on part of the data and hold a core the backlog needs.
   */
  upstream?: StageBacklog[];
}) {
  const policy = refitPolicy(d.config);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;

  async function checkOnce(): Promise<string | undefined> {
    if (await backedUp(d.upstream ?? [])) return undefined;
    const [meta, stats] = await Promise.all([d.slots.meta(), readDataStats(d.redis, d.keys)]);
    const reason = refitReason(meta.churn, stats, Date.now(), policy);
    if (reason) {
      await enqueueRefit(d.queue, { reason }, true);
      d.log.info({ reason }, "refit requested");
    }
    return reason;
  }

  const loop = async () => {
    try {
      await checkOnce();
    } catch (err) {
      d.log.warn({ err }, "refit check failed; will check again");
    }
    if (running) timer = setTimeout(loop, d.config.LIFELINE_REFIT_CHECK_MS);
  };

  return {
    checkOnce,
    start() {
      running = true;
      void loop();
    },
    stop() {
      running = false;
      clearTimeout(timer);
    },
  };
}
