import type { Config } from "../config";
import type { Logger } from "../log/logger";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";
import type { EventLog } from "../streams/event-log";
import type { Identities } from "../profiles/identities";
import type { ProfileStore } from "../profiles/profile-store";
import type { Suppression } from "../profiles/suppression";
import type { LifelineQueues } from "../../queues/open-queues";
import type { ApiMetrics } from "../metrics/api-metrics";
import type { AdminSessions } from "./admin-auth";
import type { KeyRing } from "./auth";
import type { RateLimiter } from "./rate-limit";
import type { SemanticMemory } from "./semantic-memory";

/** What the HTTP layer needs; built once by the entry point, replaced in tests. */
export type AppDeps = {
  config: Config;
  log: Logger;
  redis: RedisClient;
  keys: Keyspace;
  keyRing: KeyRing;
  eventLog: EventLog;
  profiles: ProfileStore;
  identities: Identities;
  /** Erased customers who may not come back (keyed hashes). */
  suppression: Suppression;
  /** Embedder + vector memory for the memory routes and erasure. */
  semantic: SemanticMemory;
  /** Every Lifeline queue (dashboard, metrics, dead-letter replay). */
  queues: LifelineQueues;
  metrics: ApiMetrics;
  rateLimiter: RateLimiter;
  adminSessions: AdminSessions;
};
