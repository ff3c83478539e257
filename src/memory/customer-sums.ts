import { MemoryMismatchError } from "../errors/memory-mismatch-error";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";
import { emptyCustomerVector, type CustomerVector } from "./customer-vector";
import { planSumChanges, type SumChange } from "./sum-changes";

// Compare-and-set of one customer's sums and ledger (KEYS[1], KEYS[2]): written only if nobody
// changed them since we read version ARGV[1]. An erased customer (tombstone KEYS[3]) takes
// nothing in. The new version is Redis's clock in µs (and always above the last one), so it
// keeps rising across an erasure: Qdrant's customer points are fenced by it.
const CAS_SCRIPT = `
if redis.call('EXISTS', KEYS[3]) == 1 then return false end
local v = redis.call('HGET', KEYS[1], 'v')
if (v or '') ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local nv = string.format('%.0f', math.max((tonumber(v) or 0) + 1, tonumber(t[1]) * 1000000 + tonumber(t[2])))
redis.call('HSET', KEYS[1], 'sum', ARGV[2], 'weight', ARGV[3], 'refTs', ARGV[4], 'v', nv)
local n = tonumber(ARGV[5])
if n > 0 then redis.call('HSET', KEYS[2], unpack(ARGV, 6, 5 + 2 * n)) end
if #ARGV > 5 + 2 * n then redis.call('HDEL', KEYS[2], unpack(ARGV, 6 + 2 * n)) end
-- Emptied (a visitor stitched away): nothing left to keep; the clock keeps later versions rising.
if ARGV[3] == '0' and redis.call('HLEN', KEYS[2]) == 0 then redis.call('DEL', KEYS[1], KEYS[2]) end
return nv`;

// Erasure: the sums and ledger go; returns the version that fences out writes still in flight.
const ERASE_SCRIPT = `
local v = redis.call('HGET', KEYS[1], 'v')
redis.call('DEL', KEYS[1], KEYS[2])
local t = redis.call('TIME')
return string.format('%.0f', math.max((tonumber(v) or 0) + 1, tonumber(t[1]) * 1000000 + tonumber(t[2])))`;

type SumsClient = RedisClient & {
  lifelineSumsCas(...keysThenArgs: (string | Buffer | number)[]): Promise<string | 0 | null>;
  lifelineSumsErase(sums: string, events: string): Promise<string>;
};

/** A customer's sums after a write, and the version that write got. */
export type CustomerSumsState = { version: number; cv: CustomerVector };

export type CustomerSums = ReturnType<typeof createCustomerSums>;

const CAS_ATTEMPTS = 50;

/**
 * The one owner of each customer's running sums (the customer vector of the Qdrant memory):
 * beside the profile in Redis, where a compare-and-set says for certain whether it applied and
 * the ledger of counted events makes every change exactly-once. Qdrant holds a projection of it.
 */
export function createCustomerSums(redis: RedisClient, keys: Keyspace, options: { dimensions: number; halfLifeMs: number }) {
  if (!("lifelineSumsCas" in redis)) {
    redis.defineCommand("lifelineSumsCas", { lua: CAS_SCRIPT, numberOfKeys: 3 });
    redis.defineCommand("lifelineSumsErase", { lua: ERASE_SCRIPT, numberOfKeys: 2 });
  }
  const client = redis as SumsClient;

  async function read(customerId: string, pointIds: string[]) {
    const [fields, held] = await Promise.all([
      redis.hmgetBuffer(keys.customerSums(customerId), "sum", "weight", "refTs", "v"),
      pointIds.length ? redis.hmget(keys.customerSumEvents(customerId), ...pointIds) : Promise.resolve([]),
    ]);
    const [sum, weight, refTs, v] = fields;
    const counted = new Map<string, string>();
    pointIds.forEach((id, i) => held[i] != null && counted.set(id, held[i]!));
    const cv = sum ? decode(sum, Number(weight), Number(refTs), options.dimensions, customerId) : emptyCustomerVector(options.dimensions, 0);
    return { cv, version: v ? v.toString() : "", counted };
  }

  return {
    /**
     * Applies the changes exactly once; returns the sums to project, or undefined when the
     * customer has none (never counted anything, or erased).
     */
    async apply(customerId: string, changes: SumChange[]): Promise<CustomerSumsState | undefined> {
      const pointIds = [...new Set(changes.map((c) => c.event.pointId))];
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const { cv, version, counted } = await read(customerId, pointIds);
        const plan = planSumChanges(cv, counted, changes, options.halfLifeMs);
        // Nothing new (a retry): the caller projects the current sums again, which heals a lost projection.
        if (!plan.isChanged) return version ? { version: Number(version), cv } : undefined;
        const outcome = await client.lifelineSumsCas(
          keys.customerSums(customerId),
          keys.customerSumEvents(customerId),
          keys.erased(customerId),
          version,
          encode(cv.sum),
          String(cv.weight),
          String(cv.refTs),
          plan.counted.size,
          ...[...plan.counted].flat(),
          ...plan.uncounted,
        );
        if (outcome === null) return undefined;
        if (outcome !== 0) return { version: Number(outcome), cv };
      }
      throw new Error(`customer sums of ${customerId} kept changing under us; retry`);
    },

    async get(customerId: string): Promise<CustomerSumsState | undefined> {
      const { cv, version } = await read(customerId, []);
      return version ? { version: Number(version), cv } : undefined;
    },

    /** Deletes the sums and ledger; returns a version above every write made so far. */
    async erase(customerId: string): Promise<number> {
      return Number(await client.lifelineSumsErase(keys.customerSums(customerId), keys.customerSumEvents(customerId)));
    },
  };
}

// Little-endian float64 whatever the machine: workers on different hardware share these.
function encode(sum: Float64Array): Buffer {
  const out = Buffer.alloc(sum.length * 8);
  sum.forEach((x, i) => out.writeDoubleLE(x, i * 8));
  return out;
}

function decode(bytes: Buffer, weight: number, refTs: number, dimensions: number, customerId: string): CustomerVector {
  if (bytes.length !== dimensions * 8)
    throw new MemoryMismatchError(
      `the customer sums of ${customerId} in Redis have ${bytes.length / 8} dimensions, the memory ${dimensions}; ` +
        "they were written for another embedding model",
    );
  return { sum: Float64Array.from({ length: dimensions }, (_, i) => bytes.readDoubleLE(i * 8)), weight, refTs };
}
