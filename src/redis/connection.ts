import Redis, { Cluster, type RedisOptions } from "ioredis";
import { redisClusterTarget, type ClusterTarget, type Config } from "../config";
import { StartupError } from "../errors/startup-error";
import type { Logger } from "../log/logger";

export type RedisClient = Redis | Cluster;

export type ConnectionRole =
  /** Request paths: fail fast while Redis is away so the API can answer 503 at once. */
  | "api"
  /** Workers and BullMQ: wait for Redis to come back instead of failing jobs. */
  | "worker";

/**
 * A Redis client. Connection errors never print a trace per retry: with `log`, one line says
 * when Redis becomes unreachable (naming the setting that points there) and one when it is back.
 */
export function createRedis(config: Config, role: ConnectionRole, log?: Logger): RedisClient {
  const client = connect(config, role);
  reportOutages(client, redisTarget(config), log);
  return client;
}

function connect(config: Config, role: ConnectionRole): RedisClient {
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

const CONNECTION_ERROR_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ERR_SOCKET_CLOSED"]);

/** A lost or refused connection (Redis away), as opposed to an error of a command. */
export function isConnectionError(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: string; message?: string };
  return CONNECTION_ERROR_CODES.has(code ?? "") || /Connection is closed|Stream isn't writeable|connect ETIMEDOUT|Failed to refresh slots cache/.test(message ?? "");
}

type RedisTarget = { where: string; setting: "REDIS_URL" | "REDIS_CLUSTER_NODES" };

/** Where these settings point, for messages: the address (no credentials) and the setting naming it. */
export function redisTarget(config: Pick<Config, "REDIS_URL" | "REDIS_CLUSTER_NODES">): RedisTarget {
  if (config.REDIS_CLUSTER_NODES) return { where: `the Redis Cluster at ${config.REDIS_CLUSTER_NODES}`, setting: "REDIS_CLUSTER_NODES" };
  const cluster = redisClusterTarget(config);
  if (cluster) return { where: `the Redis Cluster at ${cluster.seeds.map((s) => `${s.host}:${s.port}`).join(",")}`, setting: "REDIS_URL" };
  try {
    const url = new URL(config.REDIS_URL);
    return { where: `Redis at ${url.protocol}//${url.host}${url.pathname.length > 1 ? url.pathname : ""}`, setting: "REDIS_URL" };
  } catch {
    return { where: "Redis", setting: "REDIS_URL" };
  }
}

const outages = new WeakMap<RedisClient, { target: RedisTarget; lastError?: Error }>();

function reportOutages(client: RedisClient, target: RedisTarget, log?: Logger): void {
  const state: { target: RedisTarget; lastError?: Error } = { target };
  const named = `${target.where} (${target.setting})`;
  outages.set(client, state);
  let isDown = false;
  client.on("error", (err: Error) => {
    state.lastError = err;
    if (isDown) return;
    isDown = true;
    const reason = (err as { code?: string }).code ?? err.message;
    if (isConnectionError(err)) log?.warn({ reason }, `${named} is unreachable (${reason}); retrying until it answers`);
    else log?.error({ err }, `${named}: ${err.message}`);
  });
  client.on("ready", () => {
    if (isDown) log?.info(`${named} is reachable again`);
    isDown = false;
  });
}

/** Resolves once the client can serve commands, or rejects after timeoutMs naming what did not answer. */
export async function waitUntilReady(client: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (client.status === "ready") return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      const state = outages.get(client);
      const reason = state?.lastError ? ` (${(state.lastError as { code?: string }).code ?? state.lastError.message})` : "";
      const { where, setting } = state?.target ?? { where: "Redis", setting: "REDIS_URL" };
      reject(new StartupError(`${where} (${setting}) did not answer within ${Math.round(timeoutMs / 1000)} s${reason}: start it, or set ${setting} to a Redis that runs`));
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

/**
 * The 'error' listener for BullMQ queues and workers on a reported client: Redis being away
 * is already said once by the client; anything else is logged. (Without a listener, BullMQ
 * prints every retry's error with its stack.)
 */
export function bullmqErrorListener(log: Logger | undefined, what: string): (err: Error) => void {
  return (err) => {
    if (!isConnectionError(err)) log?.error({ err }, `${what}: ${err.message}`);
  };
}
