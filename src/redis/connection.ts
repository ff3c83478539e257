import Redis, { Cluster, type RedisOptions } from "ioredis";
import type { Config } from "../config";

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
  const nodes = clusterNodes(config);
  if (nodes) return new Cluster(nodes, { redisOptions: options, enableOfflineQueue: options.enableOfflineQueue ?? true, enableAutoPipelining: true });
  return new Redis(config.REDIS_URL, options);
}

function clusterNodes(config: Config): { host: string; port: number }[] | undefined {
  const raw = config.REDIS_CLUSTER_NODES;
  if (!raw) return undefined;
  return raw.split(",").map((seed) => {
    const [host = "127.0.0.1", port = "6379"] = seed.trim().split(":");
    return { host, port: Number(port) };
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
