import type { RedisClient } from "../../src/redis/connection";

export type DumpedKey = { key: string; type: string; ttlSeconds: number; text: string };

/** Every key under a prefix (SCAN), with its whole value as text, whatever its type. */
export async function dumpKeys(redis: RedisClient, prefix: string): Promise<DumpedKey[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return Promise.all(
    [...new Set(keys)].map(async (key) => {
      const type = await redis.type(key);
      const ttlSeconds = await redis.ttl(key);
      const value: unknown =
        type === "string"
          ? await redis.get(key)
          : type === "hash"
            ? await redis.hgetall(key)
            : type === "list"
              ? await redis.lrange(key, 0, -1)
              : type === "set"
                ? await redis.smembers(key)
                : type === "zset"
                  ? await redis.zrange(key, 0, -1, "WITHSCORES")
                  : type === "stream"
                    ? await redis.xrange(key, "-", "+")
                    : `(${type})`;
      return { key, type, ttlSeconds, text: JSON.stringify(value) };
    }),
  );
}
