import type { Queue } from "bullmq";
import type { RedisClient } from "../src/redis/connection";
import type { Keyspace } from "../src/redis/keys";
import { INIT_STREAM_COUNTS, STREAM_GROUP } from "../src/streams/event-log";

const STREAM_BACKLOG = `${INIT_STREAM_COUNTS}
initStreamCounts(KEYS[1], KEYS[2], ARGV[1])
return redis.call('HMGET', KEYS[2], 'appended', 'delivered')`;

// Sums the -n<events> suffix of every job id not yet taken by a worker (withEventCount); ids
// without one (a single event retried alone) count 1. Ids only: no job data is read.
const QUEUED_EVENTS = `
local n = 0
local function add(ids)
  for _, id in ipairs(ids) do
    if string.sub(id, 1, 2) ~= '0:' then n = n + (tonumber(string.match(id, '%-n(%d+)$')) or 1) end
  end
end
add(redis.call('LRANGE', KEYS[1], 0, -1))
add(redis.call('LRANGE', KEYS[2], 0, -1))
add(redis.call('ZRANGE', KEYS[3], 0, -1))
add(redis.call('ZRANGE', KEYS[4], 0, -1))
return n`;

/** Events appended to each partition stream and not yet delivered to the workers, by partition. */
export async function undeliveredEvents(redis: RedisClient, keys: Keyspace): Promise<number[]> {
  return Promise.all(
    Array.from({ length: keys.partitions }, async (_, p) => {
      const [appended, delivered] = (await redis.eval(STREAM_BACKLOG, 2, keys.stream(p), keys.streamCounts(p), STREAM_GROUP)) as [string | null, string | null];
      return Math.max(0, Number(appended ?? 0) - Number(delivered ?? 0));
    }),
  );
}

/** Events in a queue's jobs that wait for a worker (waiting, paused, prioritized, delayed for a retry). */
export async function queuedEvents(redis: RedisClient, queue: Queue): Promise<number> {
  const k = queue.keys;
  return (await redis.eval(QUEUED_EVENTS, 4, k.wait!, k.paused!, k.prioritized!, k.delayed!)) as number;
}

/** Events accepted but not yet in profiles and memory: undelivered in the streams, or waiting in clean and embed jobs. */
export async function eventBacklog(redis: RedisClient, keys: Keyspace, queues: { clean: Queue; embed: Queue }): Promise<number> {
  const [streams, clean, embed] = await Promise.all([undeliveredEvents(redis, keys), queuedEvents(redis, queues.clean), queuedEvents(redis, queues.embed)]);
  return streams.reduce((a, b) => a + b, 0) + clean + embed;
}

/** A stage's queue and how many of its jobs may wait before it counts as backed up. */
export type StageBacklog = { queue: Queue; backlog: number };

/** Whether any of these stages has more jobs waiting than its backlog allows. */
export async function backedUp(stages: readonly StageBacklog[]): Promise<boolean> {
  const waiting = await Promise.all(stages.map((s) => s.queue.getWaitingCount()));
  return stages.some((s, i) => waiting[i]! > s.backlog);
}
