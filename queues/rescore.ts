import type { Queue } from "bullmq";
import type { Logger } from "../src/log/logger";
import { isConnectionError, type RedisClient } from "../src/redis/connection";
import type { Keyspace } from "../src/redis/keys";
import { backedUp, type StageBacklog } from "./backlog";
import { enqueueScores, type InferenceJob } from "./inference.queue";

// Removes a due customer only if no newer event pushed its time back meanwhile.
const REMOVE_IF_UNCHANGED = `
local removed = 0
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed`;

type RescoreClient = RedisClient & { lifelineRescoreDone(key: string, ...args: (string | number)[]): Promise<number> };

export type RescoreOptions = {
  /** A customer with new events is scored this long after the first of them. */
  debounceMs: number;
  pollMs?: number;
  /** Score jobs allowed to wait at once; more due customers stay due (each once) until there is room. */
  maxWaiting: number;
  /** The stages before scoring (clean, embed): while one is backed up, re-scores wait. */
  upstream?: StageBacklog[];
};

/**
 * Debounced re-scoring. A customer's first new event sets their due time to now + debounce
 * (one ZADD NX for a whole batch); later events before it leave it alone, so a busy customer
 * is scored once per window instead of never. A pump turns the customers that came due into
 * score jobs, as fast as the inference workers take them and only while ingest keeps up:
 * fresh profiles and memory come first, a stale insight (marked so) can wait.
 */
export function createRescorer(redis: RedisClient, keys: Keyspace, queue: Queue<InferenceJob>, log: Logger, opts: RescoreOptions) {
  if (!("lifelineRescoreDone" in redis)) (redis as RedisClient).defineCommand("lifelineRescoreDone", { lua: REMOVE_IF_UNCHANGED, numberOfKeys: 1 });
  const client = redis as RescoreClient;
  let running = false;
  let loop: Promise<void> | undefined;

  async function room(): Promise<number> {
    const [scores, busy] = await Promise.all([queue.getWaitingCount(), backedUp(opts.upstream ?? [])]);
    return busy ? 0 : Math.min(500, opts.maxWaiting - scores);
  }

  async function pumpOnce(): Promise<number> {
    const limit = await room();
    if (limit <= 0) return 0;
    const due = await redis.zrangebyscore(keys.rescoreDue(), "-inf", Date.now(), "WITHSCORES", "LIMIT", 0, limit);
    if (!due.length) return 0;
    const ids: string[] = [];
    for (let i = 0; i < due.length; i += 2) ids.push(due[i]!);
    await enqueueScores(queue, ids);
    await client.lifelineRescoreDone(keys.rescoreDue(), ...due);
    return ids.length;
  }

  return {
    async schedule(customerIds: string[]): Promise<void> {
      if (!customerIds.length) return;
      const at = Date.now() + opts.debounceMs;
      await redis.zadd(keys.rescoreDue(), "NX", ...customerIds.flatMap((id) => [at, id]));
    },
    pumpOnce,
    start(): void {
      running = true;
      loop = (async () => {
        while (running) {
          try {
            if ((await pumpOnce()) > 0) continue;
          } catch (err) {
            if (!isConnectionError(err)) log.warn({ err }, "re-score pump failed; retrying");
          }
          await Bun.sleep(opts.pollMs ?? Math.min(250, opts.debounceMs));
        }
      })();
    },
    async stop(): Promise<void> {
      running = false;
      await loop;
    },
  };
}
