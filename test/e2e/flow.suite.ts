import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { createApp } from "../../src/api/app";
import { buildAppDeps } from "../../src/api/build-deps";
import type { AppDeps } from "../../src/api/deps";
import { openedSemanticMemory } from "../../src/api/semantic-memory";
import type { Config } from "../../src/config";
import { createEmbedder } from "../../src/embeddings/create-embedder";
import type { Embedder } from "../../src/embeddings/embedder";
import { createLogger } from "../../src/log/logger";
import { createMemoryStore } from "../../src/memory/create-memory-store";
import type { MemoryStore } from "../../src/memory/memory-store";
import { waitUntilReady } from "../../src/redis/connection";
import { embedAndUpsert } from "../../queues/embed.worker";
import { startWorkers, type WorkerRuntime } from "../../queues/worker-runtime";
import { TEST_KEYS, testConfig } from "../support/test-config";
import { waitFor } from "../support/wait-for";

/** Where the suite's Redis comes from: a single redis-server or a Redis Cluster. */
export type FlowTarget = { redisUrl: string; stop(): Promise<void> };

export type FlowSystem = {
  config: Config;
  deps: AppDeps;
  workers: WorkerRuntime;
  memory: MemoryStore;
  /** POST with the write key through the in-process API; expects 200. */
  post(path: string, body: unknown): Promise<{ status: number; body: any }>;
};

const DAY = 86_400_000;
const uid = () => crypto.randomUUID().slice(0, 8);
const t0 = Date.parse("2024-03-01T10:00:00Z");
const at = (min: number) => new Date(t0 + min * 60_000).toISOString();

/**
 * The whole flow, ingest → stream → profile → vector memory → inference → erasure, in one
 * suite run against any Redis `connect` gives (one test file per deployment shape).
 * `more` adds the caller's own tests, run on the same system before it stops.
 */
export function flowSuite(label: string, opts: { connect: () => Promise<FlowTarget>; more?: (system: () => FlowSystem) => void }) {
  let target: FlowTarget;
  let config: Config;
  let embedder: Embedder;
  let memory: MemoryStore;
  let deps: AppDeps;
  let app: ReturnType<typeof createApp>;
  let workers: WorkerRuntime;

  async function call(method: string, path: string, key: string | null, body?: unknown) {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (key) headers.authorization = `Bearer ${key}`;
    const res = await app.handle(new Request(`http://lifeline.test${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }));
    return { status: res.status, body: (await res.json()) as any };
  }
  const post = async (path: string, body: unknown) => {
    const r = await call("POST", path, TEST_KEYS.write, body);
    expect(r.status).toBe(200);
    return r;
  };
  const read = (path: string) => call("GET", path, TEST_KEYS.read);
  const profileWhen = (id: string, ready: (p: any) => boolean) =>
    waitFor(async () => {
      const r = await read(`/clients/${encodeURIComponent(id)}`);
      return r.status === 200 && ready(r.body.profile) ? r.body.profile : undefined;
    }, 30_000, `profile of ${id}`);
  const pointsOf = (customerId: string, n: number) => waitFor(async () => (await memory.count(customerId)) >= n, 30_000, `${n} points of ${customerId}`);

  describe(`${label}: ingest → pipeline → memory → inference`, () => {
    beforeAll(async () => {
      target = await opts.connect();
      config = testConfig(target.redisUrl, {
        LIFELINE_EMBED_MAX_WAIT_MS: "20",
        LIFELINE_JOB_ATTEMPTS: "2",
        LIFELINE_JOB_BACKOFF_MS: "50",
        LIFELINE_RESCORE_DEBOUNCE_MS: "200",
        LIFELINE_CHURN_HORIZON_DAYS: "60",
      });
      embedder = await createEmbedder(config);
      memory = await createMemoryStore(config, embedder);
      await memory.init();
      const log = createLogger(config);
      deps = { ...buildAppDeps(config, log), semantic: openedSemanticMemory({ embedder, store: memory }) };
      await waitUntilReady(deps.redis, 30_000);
      app = createApp(deps);
      workers = await startWorkers(config, log, { embedder, memory });
    });
    afterAll(async () => {
      await workers?.stop();
      deps?.redis.disconnect();
      await memory?.close();
      await target?.stop();
      if (config) rmSync(config.LIFELINE_DATA_DIR, { recursive: true, force: true });
    });

    test("events posted to the API appear in the right customer's profile with stage, counts and revenue", async () => {
      const userId = `u-${uid()}`;
      const other = `u-${uid()}`;
      await post("/v1/batch", {
        batch: [
          { type: "track", userId, event: "Product Viewed", timestamp: at(0), properties: { product_id: "p1", name: "Mug", price: 5 } },
          { type: "track", userId, event: "add_to_cart", timestamp: at(1), properties: { product_id: "p1", name: "Mug", price: 5, quantity: 2 } },
          { type: "track", userId, event: "Order Completed", timestamp: at(2), properties: { revenue: "10.00", currency: "eur", products: [{ product_id: "p1", name: "Mug", price: 5, quantity: 2 }] } },
          { type: "track", userId, event: "Order Completed", timestamp: at(60), properties: { revenue: 20 } },
          { type: "track", userId, event: "Subscription Cancelled", timestamp: at(120) },
          { type: "track", userId: other, event: "Product Viewed", timestamp: at(5) },
        ],
      });
      const p = await profileWhen(userId, (p) => p.eventCounts["Subscription Cancelled"] === 1);
      expect(p.eventCounts).toMatchObject({ "Product Viewed": 1, "Product Added": 1, "Order Completed": 2 });
      expect(p.revenue).toBe(30);
      expect(p.stageCounts).toEqual({ pre_conversion: 2, conversion: 1, post_conversion: 1, churn_signal: 1 });
      expect(p.currentStage).toBe("churn_signal");
      expect((await profileWhen(other, () => true)).eventCounts).toEqual({ "Product Viewed": 1 });
    });

    test("the same messageId posted twice is stored once and counted once", async () => {
      const userId = `u-${uid()}`;
      const event = { type: "track", userId, event: "Signed In", messageId: `${userId}-once` };
      expect((await post("/events", event)).body.accepted).toBe(1);
      expect((await post("/events", event)).body.duplicates).toBe(1);
      await post("/events", { type: "track", userId, event: "Product Viewed", messageId: `${userId}-marker` });
      const p = await profileWhen(userId, (p) => p.eventCounts["Product Viewed"] === 1);
      expect(p.eventCounts["Signed In"]).toBe(1);
    });

    test("anonymous browsing followed by identify becomes the customer's profile and memory", async () => {
      const anonymousId = `anon-${uid()}`;
      const userId = `u-${uid()}`;
      await post("/v1/batch", {
        batch: [
          { type: "page", anonymousId, name: "Camping Tents", category: "outdoor", timestamp: at(0) },
          { type: "track", anonymousId, event: "Product Viewed", timestamp: at(1), properties: { product_id: "t1", name: "Family Camping Tent" } },
        ],
      });
      await pointsOf(`anon:${anonymousId}`, 2);
      await post("/v1/identify", { userId, anonymousId, traits: { plan: "pro" }, timestamp: at(5) });
      await post("/v1/track", { userId, event: "Order Completed", properties: { revenue: 12 }, timestamp: at(10) });
      const p = await profileWhen(userId, (p) => p.orders === 1 && p.eventCounts["Product Viewed"] === 1);
      expect(p.identities.anonymousIds).toContain(anonymousId);
      expect((await read(`/clients/${anonymousId}`)).body.customerId).toBe(userId);
      await waitFor(async () => (await memory.count(`anon:${anonymousId}`)) === 0 && (await memory.count(userId)) >= 3, 30_000, "the visitor's points to move");
      const events = (await read(`/clients/${userId}/memory?q=${encodeURIComponent("camping tent")}`)).body.events;
      expect(events.slice(0, 2).map((e: any) => e.event).sort()).toEqual(["Page Viewed", "Product Viewed"]);
    });

    test("events become searchable in the customer's memory, ranked by meaning", async () => {
      const userId = `u-${uid()}`;
      await post("/v1/batch", {
        batch: [
          { type: "track", userId, event: "Product Viewed", messageId: `${userId}-shoes`, timestamp: at(0), properties: { product_id: "p1", name: "Trail Running Shoes", category: "footwear", price: 80 } },
          { type: "track", userId, event: "Order Completed", messageId: `${userId}-mug`, timestamp: at(5), properties: { revenue: 12, products: [{ product_id: "p2", name: "Ceramic Coffee Mug", category: "kitchen", price: 6, quantity: 2 }] } },
          { type: "track", userId, event: "Subscription Cancelled", messageId: `${userId}-cancel`, timestamp: at(60), properties: { reason: "too expensive" } },
        ],
      });
      await pointsOf(userId, 3);
      const memoryOf = async (q: string) => (await read(`/clients/${userId}/memory?q=${encodeURIComponent(q)}`)).body.events as any[];
      expect((await memoryOf("running shoes"))[0].messageId).toBe(`${userId}-shoes`);
      expect((await memoryOf("coffee cup"))[0].messageId).toBe(`${userId}-mug`);
      expect((await memoryOf("cancelled because the price was too expensive"))[0]).toMatchObject({ messageId: `${userId}-cancel`, stage: "churn_signal" });
    });

    test("churn signals: a probability with drivers citing the customer's own events; lapsed scores riskier than regular", async () => {
      const now = Date.now();
      const ago = (days: number) => new Date(now - days * DAY).toISOString();
      const risky = `risky-${uid()}`;
      const events: object[] = [
        { type: "track", userId: risky, event: "Order Completed", messageId: `${risky}-o1`, timestamp: ago(200), properties: { revenue: 40 } },
        { type: "track", userId: risky, event: "Payment Failed", messageId: `${risky}-pf`, timestamp: ago(100) },
        { type: "track", userId: risky, event: "Subscription Cancelled", messageId: `${risky}-sc`, timestamp: ago(90), properties: { reason: "too expensive" } },
      ];
      const pop = `pop-${uid()}`;
      for (let c = 0; c < 40; c++) {
        const lapsed = c % 3 === 0;
        const every = 10 + (c % 7) * 3;
        const last = lapsed ? now - (120 + (c % 5) * 20) * DAY : now - (c % every) * DAY;
        for (let t = now - 360 * DAY, i = 0; t <= last; t += every * DAY, i++)
          events.push({ type: "track", userId: `${pop}-${c}`, event: "Order Completed", messageId: `${pop}-${c}-${i}`, timestamp: new Date(t).toISOString(), properties: { revenue: 20 + (c % 4) * 5 } });
      }
      for (let i = 0; i < events.length; i += 500) await post("/v1/batch", { batch: events.slice(i, i + 500) });
      await waitFor(async () => (await workers.profiles.get(risky))?.eventCounts["Subscription Cancelled"] === 1, 30_000, "risky profile");
      await waitFor(async () => (await workers.profiles.get(`${pop}-39`)) !== undefined, 30_000, "population profiles");

      const res = await call("POST", "/signals/churn?wait=true", TEST_KEYS.read, { customerId: risky });
      expect(res.status).toBe(200);
      const churn = res.body.results[0].insight.churn;
      expect(churn.probability).toBeGreaterThanOrEqual(0);
      expect(churn.probability).toBeLessThanOrEqual(1);
      const cited = churn.drivers.flatMap((d: any) => d.evidence.map((e: any) => e.messageId));
      expect(cited).toContain(`${risky}-sc`);
      for (const id of cited) expect(id.startsWith(risky)).toBe(true);
      const both = await call("POST", "/signals/churn?wait=true", TEST_KEYS.read, { customerIds: [`${pop}-0`, `${pop}-1`] });
      const [lapsed, regular] = both.body.results.map((r: any) => r.insight.churn.probability);
      expect(lapsed).toBeGreaterThan(regular);
      expect((await read(`/clients/${risky}`)).body.insight.churn.drivers.length).toBeGreaterThan(0);
    });

    test("DELETE erases profile, memory and identity links; a queued embed job of the erased customer is skipped", async () => {
      const anonymousId = `anon-${uid()}`;
      const userId = `u-${uid()}`;
      await post("/v1/track", { anonymousId, event: "Product Viewed", timestamp: at(0), properties: { product_id: "x", name: "Wool Scarf" } });
      await pointsOf(`anon:${anonymousId}`, 1);
      await post("/v1/identify", { userId, anonymousId, timestamp: at(1) });
      await post("/v1/track", { userId, event: "Signed In", timestamp: at(2) });
      await pointsOf(userId, 2);
      const del = await call("DELETE", `/clients/${userId}`, TEST_KEYS.admin);
      expect(del.status).toBe(200);
      expect(del.body).toMatchObject({ customerId: userId, identityLinks: 1 });
      expect((await read(`/clients/${userId}`)).status).toBe(404);
      expect(await memory.count(userId)).toBe(0);
      const late = { type: "track" as const, messageId: `late-${uid()}`, userId, name: "Signed In", ts: t0, receivedAt: t0, properties: {}, products: [], stage: "pre_conversion" as const, flags: [] };
      const embedDeps = { identities: workers.identities, suppression: workers.suppression, embedder, memory, log: createLogger(config), batchSize: 16, maxWaitMs: 10 };
      // Beside a live customer, so the erasure check reads tombstones of two customers (two slots on a cluster).
      const alive = { ...late, messageId: `alive-${uid()}`, userId: `u-${uid()}` };
      const outcomes = await embedAndUpsert([{ customerId: userId, events: [late] }, { customerId: alive.userId, events: [alive] }], embedDeps);
      expect(outcomes).toEqual([{ embedded: 0, skippedErased: 1 }, { embedded: 1, skippedErased: 0 }]);
      expect(await memory.count(userId)).toBe(0);
    });

    opts.more?.(() => ({ config, deps, workers, memory, post }));
  });
}
