import Redis, { Cluster, type RedisOptions } from "ioredis";
import { redisClusterTarget, type ClusterTarget, type Config } from "../config";

export type RedisClient = Redis | Cluster;

export type ConnectionRole =
  /** Request paths: fail fast while Redis is away so the API can answer 503 at once. */
  | "api"
  /** Workers and BullMQ: wait for Redis to come back instead of failing jobs. */
  | "worker";

export function createRedis(config: Config, role: ConnectionRole): RedisClient {
  const options: RedisOptions =
    role === "api"
      ? {
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          commandTimeout: config.LIFELINE_REDIS_TIMEOUT_MS,
          enableAutoPipelining: true,
          retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
        }
      : { maxRetriesPerRequest: null, enableAutoPipelining: true, retryStrategy: (attempt) => Math.min(attempt * 200, 2_000) };
  const cluster = redisClusterTarget(config);
  if (cluster) return createCluster(cluster, options, role);
  return new Redis(config.REDIS_URL, options);
}

function createCluster(target: ClusterTarget, options: RedisOptions, role: ConnectionRole): Cluster {
  return new Cluster(target.seeds, {
    // Reads go to masters too: a replica may lag, and the profile CAS reads what it then writes.
    scaleReads: "master",
    enableOfflineQueue: options.enableOfflineQueue ?? true,
    enableAutoPipelining: true,
    // While a master fails over, commands for its slots wait this long between tries; the api
    // role's commandTimeout still bounds the wait, so a request answers 503 instead of hanging.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2_000,
    // Also re-read the slot map now and then, not only after an error: a promoted replica is found sooner.
    slotsRefreshInterval: 2_000,
    clusterRetryStrategy: (attempt) => Math.min(100 + attempt * 200, 2_000),
    redisOptions: {
      ...options,
      connectTimeout: 5_000,
      username: target.username,
      password: target.password,
      ...(target.tls ? { tls: {} } : {}),
      // BullMQ's blocking worker connections must never give up on a command (BullMQ checks this).
      ...(role === "worker" ? { maxRetriesPerRequest: null } : {}),
    },
  });
}

/** Resolves once the client can serve commands, or rejects after timeoutMs. */
export async function waitUntilReady(client: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (client.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis not ready after ${timeoutMs} ms (status ${client.status})`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      client.off("ready", onReady);
    };
    client.on("ready", onReady);
  });
}
