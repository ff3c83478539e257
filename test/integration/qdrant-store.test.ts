import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { customerDirection } from "../../src/memory/customer-vector";
import type { MemoryPoint } from "../../src/memory/memory-store";
import { pointId } from "../../src/memory/point-id";
import { olderVersionsOnly } from "../../src/memory/qdrant-filters";
import { QdrantRest } from "../../src/memory/qdrant-rest";
import { customerPointId, openQdrantStore, type QdrantStore } from "../../src/memory/qdrant-store";
import { keyspace } from "../../src/redis/keys";
import { startFaultProxy, type FaultProxy } from "../support/fault-proxy";
import { startRedis, type TestRedis } from "../support/redis-server";
import { CONTRACT_META, expectSameCustomerVector, memoryStoreContract, recomputedCustomerVector } from "./memory-store.contract";

const url = Bun.env.QDRANT_URL;
const apiKey = Bun.env.QDRANT_API_KEY;
// Client timeout of the stores under test; a "late" fault answers after it.
const TIMEOUT_MS = 3_000;

if (!url) {
  test.skip(
    "qdrant memory store contract: skipped because QDRANT_URL is not set (no Qdrant server here). " +
      "Run `docker compose up -d qdrant` (Qdrant 1.16.0 or newer) and set QDRANT_URL=http://localhost:6333",
    () => {},
  );
} else {
  let redis: TestRedis;
  let client: Redis;
  let proxy: FaultProxy;
  const rest = new QdrantRest({ url, apiKey, timeoutMs: 30_000 });
  let prefix = "";
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    // Every store talks to Qdrant through the proxy, so a test can fail one of its requests.
    proxy = startFaultProxy(url);
  });
  afterAll(async () => {
    proxy.stop();
    client.disconnect();
    await redis.stop();
  });
  beforeEach(() => {
    prefix = `test_${crypto.randomUUID().replaceAll("-", "")}`;
  });
  afterEach(async () => {
    await Promise.all(
      [`${prefix}_events`, `${prefix}_customers`].map((c) => fetch(`${url}/collections/${c}`, { method: "DELETE", headers: apiKey ? { "api-key": apiKey } : {} })),
    );
  });

  const open = (meta = CONTRACT_META) =>
    openQdrantStore({ url: proxy.url, apiKey, prefix, redis: client, keys: keyspace(prefix, 1), timeoutMs: TIMEOUT_MS, ...meta });

  /** The customer point Qdrant holds for a customer. */
  const customerPoint = async (customerId: string) =>
    (await rest.retrieve(`${prefix}_customers`, { ids: [customerPointId(customerId)], with_vector: true, with_payload: true }))[0];

  memoryStoreContract("qdrant", open, {
    // The sums in Redis, after checking that the customer point in Qdrant is their projection.
    async customerVector(store, customerId) {
      const sums = await (store as QdrantStore).customerSums(customerId);
      const stored = await customerPoint(customerId);
      if (!sums) return undefined;
      expect(stored?.payload?.version).toBe(sums.version);
      expect(stored?.payload?.weight).toBe(sums.cv.weight);
      const direction = customerDirection(sums.cv);
      if (direction) (stored!.vector as number[]).forEach((x, i) => expect(x).toBeCloseTo(direction[i]!, 5));
      return sums.cv;
    },
    failNextCustomerVectorWrite(how) {
      const isProjection = (r: { method: string; path: string }) => r.method === "PUT" && r.path === `/collections/${prefix}_customers/points`;
      proxy.failNext(isProjection, how === "error" ? { kind: "status", status: 500 } : { kind: "late", delayMs: TIMEOUT_MS + 1_000 });
    },
  });

  describe("qdrant customer points", () => {
    const event = (customerId: string, axis: number): MemoryPoint => {
      const vector = new Float32Array(CONTRACT_META.dimensions);
      vector[axis] = 1;
      const messageId = crypto.randomUUID();
      return {
        id: pointId(messageId),
        customerId,
        vector,
        payload: { messageId, type: "track", event: "Product Viewed", stage: "pre_conversion", ts: Date.UTC(2026, 0, 1) + axis * 86_400_000, text: `axis ${axis}` },
      };
    };

    for (const legacy of [{ weight: 1 }, { weight: 1, version: 0 }])
      test(`a customer point written before versions (${JSON.stringify(legacy)}) is replaced by the next write`, async () => {
        const store = await open();
        const placeholder = Array.from({ length: CONTRACT_META.dimensions }, (_, i) => (i === 7 ? 1 : 0));
        await rest.upsert(`${prefix}_customers`, { wait: true, points: [{ id: customerPointId("legacy"), vector: placeholder, payload: { customerId: "legacy", ...legacy } }] });
        const p = event("legacy", 2);
        await store.upsert([p]);
        const stored = await customerPoint("legacy");
        expect(Number(stored?.payload?.version)).toBeGreaterThan(0);
        expectSameCustomerVector((await store.customerSums("legacy"))!.cv, recomputedCustomerVector([p]));
        expect((stored!.vector as number[])[2]).toBeCloseTo(1, 5);
      });

    test("a projection older than the stored one is not written; a newer one is", async () => {
      const store = await open();
      await store.upsert([event("fenced", 1)]);
      const current = await customerPoint("fenced");
      const version = Number(current!.payload!.version);
      const stale = { id: customerPointId("fenced"), vector: Array.from({ length: CONTRACT_META.dimensions }, (_, i) => (i === 6 ? 1 : 0)) };
      await rest.upsert(`${prefix}_customers`, {
        wait: true,
        ordering: "strong",
        points: [{ ...stale, payload: { customerId: "fenced", weight: 1, version: version - 1 } }],
        update_filter: olderVersionsOnly([{ id: stale.id, version: version - 1 }]),
      });
      expect((await customerPoint("fenced"))!.payload!.version).toBe(version);
      await rest.upsert(`${prefix}_customers`, {
        wait: true,
        ordering: "strong",
        points: [{ ...stale, payload: { customerId: "fenced", weight: 1, version: version + 1 } }],
        update_filter: olderVersionsOnly([{ id: stale.id, version: version + 1 }]),
      });
      expect((await customerPoint("fenced"))!.payload!.version).toBe(version + 1);
    });

    test("an erased customer's point becomes a tombstone without personal data that fences out late writes", async () => {
      const store = await open();
      await store.upsert([event("erased", 1), event("other", 1)]);
      const before = Number((await customerPoint("erased"))!.payload!.version);
      await store.deleteCustomer("erased");
      const tomb = await customerPoint("erased");
      expect(tomb!.payload).toEqual({ version: expect.any(Number), weight: 0 });
      expect(Number(tomb!.payload!.version)).toBeGreaterThan(before);
      expect(await store.similarCustomers("other", 5)).toEqual([]);
    });
  });
}
