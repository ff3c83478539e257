import type { StoredEvent } from "../../pipelines/segment";
import { partitionKey } from "../../pipelines/segment";
import { StoreUnavailableError } from "../errors";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";

// Dedup and append in one script per partition: atomic, so two racing requests with the
// same messageId append it once, and a crash cannot leave a dedup mark without its event.
const APPEND_SCRIPT = `
local out = {}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[i * 2 - 1], 'e', ARGV[i * 2])
    out[i - 1] = 1
  else
    out[i - 1] = 0
  end
end
return out`;

type ScriptClient = RedisClient & {
  lifelineAppend(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
};

export type Appendable = { event: StoredEvent; json: string };

export type EventLog = {
  /** Appends each event unless its messageId was seen within the dedup window; true = appended. */
  append(items: Appendable[]): Promise<boolean[]>;
};

export function createEventLog(redis: RedisClient, keys: Keyspace, opts: { dedupTtlSeconds: number; maxLen: number }): EventLog {
  if (!("lifelineAppend" in redis)) (redis as RedisClient).defineCommand("lifelineAppend", { lua: APPEND_SCRIPT });
  const client = redis as ScriptClient;

  async function appendPartition(partition: number, items: Appendable[]): Promise<number[]> {
    const keyArgs = [keys.stream(partition)];
    const args: (string | number)[] = [opts.dedupTtlSeconds, opts.maxLen];
    for (const { event, json } of items) {
      keyArgs.push(keys.dedup(partition, event.messageId));
      args.push(event.messageId, json);
    }
    return client.lifelineAppend(keyArgs.length, ...keyArgs, ...args);
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
            const result = await appendPartition(p, indexes.map((i) => items[i]!));
            indexes.forEach((itemIndex, k) => (appended[itemIndex] = result[k] === 1));
          }),
        );
      } catch (err) {
        throw new StoreUnavailableError("events could not be written to Redis; retry later", { cause: err, retryAfterSeconds: 1 });
      }
      return appended;
    },
  };
}
