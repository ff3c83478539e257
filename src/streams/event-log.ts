import type { StoredEvent } from "../../pipelines/segment";
import { partitionKey } from "../../pipelines/segment";
import { StoreUnavailableError } from "../errors";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";

// Events ever appended to a partition stream and delivered to the workers' group, kept in a hash
// beside the stream and changed in the same scripts as XADD and XREADGROUP, so that
// backlog = appended - delivered is exact (XINFO's lag is not: it sticks after an AOF rewrite and a
// restart). A stream written before the hash existed starts it at its events not yet delivered.
export const INIT_STREAM_COUNTS = `
local function initStreamCounts(stream, counts, group)
  if redis.call('EXISTS', counts) == 1 then return end
  local undelivered = 0
  if redis.call('EXISTS', stream) == 1 then
    local last = '0-0'
    for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
      local info = {}
      for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
      if info['name'] == group then last = info['last-delivered-id'] end
    end
    for _, e in ipairs(redis.call('XRANGE', stream, '(' .. last, '+')) do
      for i = 1, #e[2], 2 do if e[2][i] == 'm' then undelivered = undelivered + 1 end end
    end
  end
  redis.call('HSET', counts, 'appended', undelivered, 'delivered', 0)
end`;

// One call per partition and request: dedup and append together, so two racing requests
// with the same messageId append it once and a crash never leaves a dedup mark without its
// event. The messageIds seen are kept in two time buckets (current and previous) of the
// dedup window: SMISMEMBER/SADD on a set costs a fraction of a SET NX EX per event.
// All accepted events of the call go into ONE stream entry (m/e field pairs, in order):
// one XADD per request and partition instead of one per event.
const APPEND_SCRIPT = `${INIT_STREAM_COUNTS}
local n = (#ARGV - 3) / 2
local ids = {}
for i = 1, n do ids[i] = ARGV[2 * i + 2] end
local current = redis.call('SMISMEMBER', KEYS[2], unpack(ids))
local previous = redis.call('SMISMEMBER', KEYS[3], unpack(ids))
local out, fresh, fields, taken = {}, {}, {}, {}
for i = 1, n do
  local id = ids[i]
  if current[i] == 0 and previous[i] == 0 and not taken[id] then
    taken[id] = true
    out[i] = 1
    fresh[#fresh + 1] = id
    fields[#fields + 1] = 'm'
    fields[#fields + 1] = id
    fields[#fields + 1] = 'e'
    fields[#fields + 1] = ARGV[2 * i + 3]
  else
    out[i] = 0
  end
end
if #fresh > 0 then
  redis.call('SADD', KEYS[2], unpack(fresh))
  redis.call('EXPIRE', KEYS[2], ARGV[1] * 2)
  initStreamCounts(KEYS[1], KEYS[4], ARGV[3])
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', unpack(fields))
  redis.call('HINCRBY', KEYS[4], 'appended', #fresh)
end
return out`;

/** The consumer group the workers read every partition stream with. */
export const STREAM_GROUP = "lifeline";

type ScriptClient = RedisClient & {
  lifelineAppend(...keysThenArgs: (string | number)[]): Promise<number[]>;
};
type ScriptPipeline = {
  lifelineAppend(...keysThenArgs: (string | number)[]): ScriptPipeline;
  wait(replicas: number, timeoutMs: number): ScriptPipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
};

export type Appendable = { event: StoredEvent; json: string };

export type EventLog = {
  /** Appends each event unless its messageId was seen within the dedup window; true = appended. */
  append(items: Appendable[]): Promise<boolean[]>;
};

type Waiting = { items: Appendable[]; resolve: (flags: number[]) => void; reject: (err: unknown) => void };

/** Most events one script call carries; bounds the time Redis spends in one call. */
const MAX_EVENTS_PER_CALL = 2_000;

export type EventLogOptions = {
  dedupTtlSeconds: number;
  maxLen: number;
  /** Replicas that must acknowledge each append (WAIT) before it counts as written; 0 = don't wait. */
  waitReplicas?: number;
  waitTimeoutMs?: number;
  now?: () => number;
};

/** Fewer replicas than asked acknowledged an append in time: the events may not survive a failover. */
class ReplicationLagError extends Error {
  constructor(acked: number, wanted: number) {
    super(`${acked} of ${wanted} replicas acknowledged the append in time`);
  }
}

export function createEventLog(redis: RedisClient, keys: Keyspace, opts: EventLogOptions): EventLog {
  // A fixed number of keys puts the key first in each call: ioredis' Cluster auto-pipelining routes a
  // call by its first argument, so a leading numKeys would batch calls of different nodes together.
  if (!("lifelineAppend" in redis)) (redis as RedisClient).defineCommand("lifelineAppend", { lua: APPEND_SCRIPT, numberOfKeys: 4 });
  const client = redis as ScriptClient;
  const now = opts.now ?? Date.now;
  const waitReplicas = opts.waitReplicas ?? 0;

  // WAIT has no key, so it goes in one pipeline with the append: on Redis Cluster the pipeline
  // is routed to the node owning the partition's slot, and WAIT then covers that very write.
  async function appendCall(args: (string | number)[]): Promise<number[]> {
    if (waitReplicas === 0) return client.lifelineAppend(...args);
    const replies = (await (client.pipeline() as unknown as ScriptPipeline).lifelineAppend(...args).wait(waitReplicas, opts.waitTimeoutMs ?? 200).exec()) ?? [];
    const [append, wait] = replies;
    if (!append || append[0]) throw append?.[0] ?? new Error("no reply to the append");
    if (!wait || wait[0]) throw wait?.[0] ?? new Error("no reply to WAIT");
    if ((wait[1] as number) < waitReplicas) throw new ReplicationLagError(wait[1] as number, waitReplicas);
    return append[1] as number[];
  }

  // Group commit: while a partition's call is in flight, later requests for it wait and go
  // together in the next call. Idle, a request goes at once; under load, Redis sees a few
  // large calls instead of many small ones. One call in flight per partition keeps order.
  const waiting = new Map<number, Waiting[]>();
  const inFlight = new Set<number>();

  function flush(partition: number): void {
    const queue = waiting.get(partition);
    if (!queue?.length || inFlight.has(partition)) return;
    const group: Waiting[] = [];
    let count = 0;
    while (queue.length && (count === 0 || count + queue[0]!.items.length <= MAX_EVENTS_PER_CALL)) {
      const next = queue.shift()!;
      group.push(next);
      count += next.items.length;
    }
    inFlight.add(partition);
    const bucket = Math.floor(now() / 1000 / opts.dedupTtlSeconds);
    const args: (string | number)[] = [
      keys.stream(partition),
      keys.dedupBucket(partition, bucket),
      keys.dedupBucket(partition, bucket - 1),
      keys.streamCounts(partition),
      opts.dedupTtlSeconds,
      opts.maxLen,
      STREAM_GROUP,
    ];
    for (const w of group) for (const { event, json } of w.items) args.push(event.messageId, json);
    appendCall(args)
      .then(
        (flags) => {
          let offset = 0;
          for (const w of group) {
            w.resolve(flags.slice(offset, offset + w.items.length));
            offset += w.items.length;
          }
        },
        (err) => group.forEach((w) => w.reject(err)),
      )
      .finally(() => {
        inFlight.delete(partition);
        flush(partition);
      });
  }

  function appendPartition(partition: number, items: Appendable[]): Promise<number[]> {
    return new Promise((resolve, reject) => {
      const queue = waiting.get(partition);
      if (queue) queue.push({ items, resolve, reject });
      else waiting.set(partition, [{ items, resolve, reject }]);
      flush(partition);
    });
  }

  return {
    async append(items) {
      const byPartition = new Map<number, number[]>();
      items.forEach((item, index) => {
        const p = keys.partitionOf(partitionKey(item.event));
        const list = byPartition.get(p);
        if (list) list.push(index);
        else byPartition.set(p, [index]);
      });
      const appended = new Array<boolean>(items.length).fill(false);
      try {
        await Promise.all(
          [...byPartition].map(async ([p, indexes]) => {
            const flags = await appendPartition(p, indexes.map((i) => items[i]!));
            indexes.forEach((itemIndex, k) => (appended[itemIndex] = flags[k] === 1));
          }),
        );
      } catch (err) {
        throw new StoreUnavailableError("events could not be written to Redis; retry later", { cause: err, retryAfterSeconds: 1 });
      }
      return appended;
    },
  };
}

/** The events of one stream entry, in order: each is an m (messageId) field followed by its e (JSON) field; other fields are markers. */
export function entryEvents(fields: string[]): { messageId: string; json: string }[] {
  const out: { messageId: string; json: string }[] = [];
  for (let i = 0; i + 3 < fields.length; i += 2) if (fields[i] === "m" && fields[i + 2] === "e") out.push({ messageId: fields[i + 1]!, json: fields[i + 3]! });
  return out;
}
