import type { RedisClient } from "./connection";

// ioredis finds no key in XGROUP and XINFO (the key follows a subcommand), so on Redis Cluster
// it sends them to a random node, which answers MOVED. Run inside a one-key script, they are
// routed by their stream's slot like any other command, on a single Redis and a Cluster alike.
const CREATE_GROUP = `return redis.call('XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM')`;
const GROUPS_INFO = `return redis.call('XINFO', 'GROUPS', KEYS[1])`;

/** XGROUP CREATE … MKSTREAM on the node that owns the stream; resolves false when the group exists. */
export async function createStreamGroup(redis: RedisClient, stream: string, group: string, startId = "0"): Promise<boolean> {
  try {
    await redis.eval(CREATE_GROUP, 1, stream, group, startId);
    return true;
  } catch (err) {
    if (err instanceof Error && err.message.includes("BUSYGROUP")) return false;
    throw err;
  }
}

/** XINFO GROUPS of one stream, asked of the node that owns it (same reply shape as XINFO GROUPS). */
export function streamGroupsInfo(redis: RedisClient, stream: string): Promise<unknown[][]> {
  return redis.eval(GROUPS_INFO, 1, stream) as Promise<unknown[][]>;
}
