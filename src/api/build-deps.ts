import type { Config } from "../config";
import type { Logger } from "../log/logger";
import { createRedis } from "../redis/connection";
import { keyspace } from "../redis/keys";
import { createEventLog } from "../streams/event-log";
import { keyRing } from "./auth";
import type { AppDeps } from "./deps";

export function buildAppDeps(config: Config, log: Logger): AppDeps {
  const redis = createRedis(config, "api");
  const keys = keyspace(config.LIFELINE_KEY_PREFIX, config.LIFELINE_STREAM_PARTITIONS);
  return {
    config,
    log,
    redis,
    keys,
    keyRing: keyRing(config),
    eventLog: createEventLog(redis, keys, { dedupTtlSeconds: config.LIFELINE_DEDUP_TTL_SECONDS, maxLen: config.LIFELINE_STREAM_MAXLEN }),
  };
}
