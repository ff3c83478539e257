import type { Config } from "../config";
import type { Logger } from "../log/logger";
import { createRedis } from "../redis/connection";
import { keyspace } from "../redis/keys";
import { createEventLog } from "../streams/event-log";
import { openQueues } from "../../queues/open-queues";
import { createApiMetrics } from "../metrics/api-metrics";
import { adminSessions } from "./admin-auth";
import { keyRing } from "./auth";
import { createRateLimiter } from "./rate-limit";
import type { AppDeps } from "./deps";
import { lazySemanticMemory } from "./semantic-memory";
import { createIdentities } from "../profiles/identities";
import { createProfileStore } from "../profiles/profile-store";
import { loadStageRules } from "../profiles/stage-rules";

export function buildAppDeps(config: Config, log: Logger): AppDeps {
  const redis = createRedis(config, "api");
  const keys = keyspace(config.LIFELINE_KEY_PREFIX, config.LIFELINE_STREAM_PARTITIONS);
  const profiles = createProfileStore(redis, keys, loadStageRules(config));
  const queues = openQueues(config, redis);
  const metrics = createApiMetrics({ redis, keys, queues });
  return {
    queues,
    metrics,
    rateLimiter: createRateLimiter(redis, config, (role) => metrics.rateLimited(role)),
    adminSessions: adminSessions(config),
    config,
    profiles,
    identities: createIdentities(redis, keys, profiles),
    semantic: lazySemanticMemory(config, redis),
    log,
    redis,
    keys,
    keyRing: keyRing(config),
    eventLog: createEventLog(redis, keys, {
      dedupTtlSeconds: config.LIFELINE_DEDUP_TTL_SECONDS,
      maxLen: config.LIFELINE_STREAM_MAXLEN,
      waitReplicas: config.LIFELINE_INGEST_WAIT_REPLICAS,
      waitTimeoutMs: config.LIFELINE_INGEST_WAIT_TIMEOUT_MS,
    }),
  };
}
