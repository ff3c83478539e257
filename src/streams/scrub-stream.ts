import type { ErasedMatcher } from "../profiles/erased-matcher";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";
import { entryEvents, INIT_STREAM_COUNTS, STREAM_GROUP } from "./event-log";

// A stream entry cannot be edited: it is deleted, and the events of other customers in it are
// appended again as a copy marked d=1 ("already delivered": the bridge acknowledges it and makes
// no job). Only an entry the workers' group has read and acknowledged is rewritten; one not yet
// delivered (or still pending) is left for the clean stage, which drops the erased customer's
// events when it gets them and scrubs the entry then.
const SCRUB_ENTRY = `${INIT_STREAM_COUNTS}
if #redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2]) == 0 then return -1 end
local last = '0-0'
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  if info['name'] == ARGV[1] then last = info['last-delivered-id'] end
end
local ems, eseq = string.match(ARGV[2], '^(%d+)-(%d+)$')
local lms, lseq = string.match(last, '^(%d+)-(%d+)$')
ems, eseq, lms, lseq = tonumber(ems), tonumber(eseq), tonumber(lms), tonumber(lseq)
if ems > lms or (ems == lms and eseq > lseq) then return 0 end
if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) > 0 then return 0 end
initStreamCounts(KEYS[1], KEYS[2], ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[2])
if #ARGV > 2 then
  redis.call('XADD', KEYS[1], '*', 'd', '1', unpack(ARGV, 3))
  local kept = 0
  for i = 3, #ARGV, 2 do if ARGV[i] == 'm' then kept = kept + 1 end end
  redis.call('HINCRBY', KEYS[2], 'appended', kept)
end
return 1`;

/** An entry copied by a scrub: its events were delivered already. */
export const isScrubbedCopy = (fields: string[]) => fields[0] === "d";

export type StreamScrub = { removed: number; deferred: number };

/**
 * Removes erased customers' events from one partition stream (between two entry ids, inclusive,
 * when given). `deferred`: events in entries not yet delivered, which the clean stage scrubs.
 */
export async function scrubStream(redis: RedisClient, keys: Keyspace, partition: number, erased: ErasedMatcher, range: [string, string] = ["-", "+"]): Promise<StreamScrub> {
  const stream = keys.stream(partition);
  const result: StreamScrub = { removed: 0, deferred: 0 };
  for (let start = range[0]; ; ) {
    const entries = (await redis.xrange(stream, start, range[1], "COUNT", 500)) as [string, string[]][];
    for (const [id, fields] of entries) {
      const events = entryEvents(fields);
      const kept = events.filter((e) => !erased.ownsStored(e.json));
      if (kept.length === events.length) continue;
      const args = kept.flatMap((e) => ["m", e.messageId, "e", e.json]);
      const done = (await redis.eval(SCRUB_ENTRY, 2, stream, keys.streamCounts(partition), STREAM_GROUP, id, ...args)) as number;
      if (done === 1) result.removed += events.length - kept.length;
      else if (done === 0) result.deferred += events.length - kept.length;
    }
    if (entries.length < 500) return result;
    start = `(${entries.at(-1)![0]}`;
  }
}
