import type { Queue } from "bullmq";
import type { Logger } from "../src/log/logger";
import { isConnectionError, type RedisClient } from "../src/redis/connection";
import type { Keyspace } from "../src/redis/keys";
import { entryEvents, INIT_STREAM_COUNTS, STREAM_GROUP } from "../src/streams/event-log";
import { isScrubbedCopy } from "../src/streams/scrub-stream";
import { cleanJobNames, type CleanJob } from "./clean.queue";
import { createStreamGroup } from "../src/redis/keyed-commands";
import { withEventCount } from "./job-id";

export const CONSUMER_GROUP = STREAM_GROUP;

export type BridgeOptions = {
  consumer: string;
  /** Stream entries read per partition and call. */
  readCount: number;
  /** Most events in one clean job. */
  jobMaxEvents: number;
  claimIdleMs: number;
  /**
   * When a read finds less than a full read on every partition, wait this long before the next:
   * each job then carries more events (every job costs several Redis round trips whatever its
   * size), at the price of this much latency. 0 reads again at once.
   */
  lingerMs: number;
};

type Entry = [id: string, fields: string[]];

// XREADGROUP and the delivered count move together (see INIT_STREAM_COUNTS), so the backlog stays exact.
const READ_NEW = `${INIT_STREAM_COUNTS}
initStreamCounts(KEYS[1], KEYS[2], ARGV[1])
local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS', KEYS[1], '>')
if not reply then return reply end
local delivered = 0
for _, e in ipairs(reply[1][2]) do
  for i = 1, #e[2], 2 do if e[2][i] == 'm' then delivered = delivered + 1 end end
end
if delivered > 0 then redis.call('HINCRBY', KEYS[2], 'delivered', delivered) end
return reply`;

type ReadClient = RedisClient & { lifelineReadNew(stream: string, counts: string, group: string, consumer: string, count: number): Promise<[string, Entry[]][] | null> };

/**
 * Streams → BullMQ. A consumer group per partition stream; entries become clean jobs (bulk
 * add) and are acknowledged only once the jobs exist. Entries a dead consumer left pending
 * are claimed after claimIdleMs. A job id names the stream entries it covers, so a re-read
 * adds no second job while the first is kept; the profile stage skips applied messageIds.
 */
export function createStreamBridge(redis: RedisClient, keys: Keyspace, cleanQueue: Queue<CleanJob>, log: Logger, opts: BridgeOptions) {
  if (!("lifelineReadNew" in redis)) (redis as RedisClient).defineCommand("lifelineReadNew", { lua: READ_NEW, numberOfKeys: 2 });
  const client = redis as ReadClient;
  let running = false;
  let loop: Promise<void> | undefined;
  let lastClaimAt = 0;

  async function ensureGroups(): Promise<void> {
    await Promise.all(
      Array.from({ length: keys.partitions }, (_, p) =>
        createStreamGroup(redis, keys.stream(p), CONSUMER_GROUP),
      ),
    );
  }

  function toJobs(partition: number, entries: Entry[]) {
    const jobs: { name: string; data: CleanJob; opts: { jobId: string } }[] = [];
    let group: Entry[] = [];
    let events: CleanJob["events"] = [];
    const close = () => {
      if (!group.length) return;
      jobs.push({
        name: cleanJobNames.batch,
        data: { partition, events, range: [group[0]![0], group[group.length - 1]![0]] },
        opts: { jobId: withEventCount(`p${partition}-${group[0]![0]}-${group[group.length - 1]![0]}`, events.length) },
      });
      group = [];
      events = [];
    };
    for (const entry of entries) {
      const inEntry = entryEvents(entry[1]);
      if (events.length && events.length + inEntry.length > opts.jobMaxEvents) close();
      group.push(entry);
      events.push(...inEntry);
    }
    close();
    return jobs;
  }

  async function handOff(partition: number, entries: Entry[]): Promise<number> {
    // Deleted entries (no fields) and copies left by an erasure (delivered before) make no job.
    const live = entries.filter(([, fields]) => fields && !isScrubbedCopy(fields));
    const jobs = toJobs(partition, live);
    if (jobs.length) await cleanQueue.addBulk(jobs);
    await redis.xack(keys.stream(partition), CONSUMER_GROUP, ...entries.map(([id]) => id));
    return jobs.reduce((n, j) => n + j.data.events.length, 0);
  }

  /** Events moved, and whether some partition had a full read waiting (a backlog). */
  async function readNew(): Promise<{ moved: number; full: boolean }> {
    const replies = await Promise.all(
      Array.from({ length: keys.partitions }, (_, p) => client.lifelineReadNew(keys.stream(p), keys.streamCounts(p), CONSUMER_GROUP, opts.consumer, opts.readCount)),
    );
    let moved = 0;
    let full = false;
    await Promise.all(
      replies.map(async (reply, p) => {
        const entries = reply?.[0]?.[1];
        if (entries?.length === opts.readCount) full = true;
        if (entries?.length) moved += await handOff(p, entries);
      }),
    );
    return { moved, full };
  }

  async function claimAbandoned(): Promise<number> {
    let moved = 0;
    await Promise.all(
      Array.from({ length: keys.partitions }, async (_, p) => {
        const [, entries, deleted] = (await redis.xautoclaim(keys.stream(p), CONSUMER_GROUP, opts.consumer, opts.claimIdleMs, "0-0", "COUNT", opts.readCount)) as [
          string,
          Entry[],
          string[],
        ];
        if (deleted?.length) await redis.xack(keys.stream(p), CONSUMER_GROUP, ...deleted);
        if (entries.length) {
          log.info({ partition: p, entries: entries.length }, "claimed entries a dead consumer left pending");
          moved += await handOff(p, entries);
        }
      }),
    );
    return moved;
  }

  async function run(): Promise<void> {
    let idleMs = 5;
    while (running) {
      try {
        let claimed = 0;
        if (Date.now() - lastClaimAt > Math.min(opts.claimIdleMs, 5_000)) {
          lastClaimAt = Date.now();
          claimed = await claimAbandoned();
        }
        const { moved, full } = await readNew();
        idleMs = full || claimed ? 0 : moved ? opts.lingerMs : Math.min(Math.max(idleMs * 2, 5), 100);
      } catch (err) {
        // Redis being away is reported once by its client, not once per iteration.
        if (!isConnectionError(err)) log.warn({ err }, "stream bridge iteration failed; retrying");
        idleMs = 1_000;
      }
      if (idleMs) await Bun.sleep(idleMs);
    }
  }

  return {
    async start(): Promise<void> {
      await ensureGroups();
      running = true;
      loop = run();
    },
    /** Finishes the hand-off in progress, then stops reading. */
    async stop(): Promise<void> {
      running = false;
      await loop;
    },
  };
}
