import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
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
import type { CleanEvent } from "../../pipelines/clean-event";
import { embedAndUpsert } from "../../queues/embed.worker";
import { startWorkers, type WorkerRuntime } from "../../queues/worker-runtime";
import { startRedis, type TestRedis } from "../support/redis-server";
import { TEST_KEYS, testConfig } from "../support/test-config";
import { waitFor } from "../support/wait-for";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

let redis: TestRedis;
let config: Config;
let embedder: Embedder;
let memory: MemoryStore;
let deps: AppDeps;
let app: ReturnType<typeof createApp>;
let workers: WorkerRuntime;

beforeAll(async () => {
  redis = await startRedis();
  // testConfig: fresh data folder, the shared converted model (small vocabulary; these texts use common words).
  config = testConfig(redis.url, {
    LIFELINE_EMBED_MAX_WAIT_MS: "20",
    LIFELINE_JOB_ATTEMPTS: "2",
    LIFELINE_JOB_BACKOFF_MS: "50",
  });
  embedder = await createEmbedder(config);
  memory = await createMemoryStore(config, embedder);
  await memory.init();
  const log = createLogger(config);
  // API and workers share one store in this process, as they share one file across processes.
  deps = { ...buildAppDeps(config, log), semantic: openedSemanticMemory({ embedder, store: memory }) };
  await waitUntilReady(deps.redis);
  app = createApp(deps);
  workers = await startWorkers(config, log, { embedder, memory });
});
afterAll(async () => {
  await workers.stop();
  deps.redis.disconnect();
  await memory.close();
  await redis.stop();
  rmSync(config.LIFELINE_DATA_DIR, { recursive: true, force: true });
});

const uid = () => crypto.randomUUID().slice(0, 8);
const t0 = Date.parse("2024-03-01T10:00:00Z");
const at = (min: number) => new Date(t0 + min * 60_000).toISOString();

async function call(method: string, path: string, key: string | null, body?: unknown) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (key) headers.authorization = `Bearer ${key}`;
  const res = await app.handle(new Request(`http://lifeline.test${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }));
  return { status: res.status, body: (await res.json()) as any };
}
const post = (path: string, body: unknown) => call("POST", path, TEST_KEYS.write, body);
const read = (path: string, key: string = TEST_KEYS.read) => call("GET", path, key);

async function memoryOf(id: string, q: string, extra = "") {
  const r = await read(`/clients/${encodeURIComponent(id)}/memory?q=${encodeURIComponent(q)}${extra}`);
  expect(r.status).toBe(200);
  return r.body.events as Array<{ score: number; time: string; type: string; event: string; stage: string; text: string; messageId: string }>;
}

const pointsOf = (customerId: string, n: number) => waitFor(async () => (await memory.count(customerId)) >= n, 20_000, `${n} points of ${customerId}`);

/** A shopper with clearly different events: shoes, a mug order, a cancellation. */
async function shopper(userId: string) {
  await post("/v1/batch", {
    batch: [
      { type: "track", userId, event: "Product Viewed", messageId: `${userId}-shoes`, timestamp: at(0), properties: { product_id: "p1", name: "Trail Running Shoes", category: "footwear", price: 80 } },
      { type: "track", userId, event: "Order Completed", messageId: `${userId}-mug`, timestamp: at(5), properties: { revenue: 12, currency: "GBP", products: [{ product_id: "p2", name: "Ceramic Coffee Mug", category: "kitchen", price: 6, quantity: 2 }] } },
      { type: "track", userId, event: "Subscription Cancelled", messageId: `${userId}-cancel`, timestamp: at(60), properties: { reason: "too expensive" } },
    ],
  });
  await pointsOf(userId, 3);
}

describe("events → vector memory", () => {
  test("events posted to the API become searchable in the customer's memory, ranked by meaning", async () => {
    const userId = `u-${uid()}`;
    await shopper(userId);
    expect((await memoryOf(userId, "running shoes"))[0]!.messageId).toBe(`${userId}-shoes`);
    expect((await memoryOf(userId, "coffee cup"))[0]!.messageId).toBe(`${userId}-mug`);
    const [top] = await memoryOf(userId, "cancelled because the price was too expensive");
    expect(top).toMatchObject({ messageId: `${userId}-cancel`, type: "track", event: "Subscription Cancelled", stage: "churn_signal", time: at(60) });
    expect(top!.text).toContain("too expensive");
    expect(top!.score).toBeGreaterThan(0);
  });

  test("stage, time and limit filters narrow the customer's memory", async () => {
    const userId = `u-${uid()}`;
    await shopper(userId);
    expect((await memoryOf(userId, "anything", "&stage=conversion")).map((e) => e.messageId)).toEqual([`${userId}-mug`]);
    expect((await memoryOf(userId, "anything", `&since=${encodeURIComponent(at(1))}&until=${encodeURIComponent(at(61))}`)).map((e) => e.event).sort()).toEqual(["Order Completed", "Subscription Cancelled"]);
    expect(await memoryOf(userId, "anything", "&type=page")).toEqual([]);
    expect(await memoryOf(userId, "anything", "&limit=2")).toHaveLength(2);
  });

  test("without q the customer's events are listed newest first, with the same filters", async () => {
    const userId = `u-${uid()}`;
    await shopper(userId);
    const all = await read(`/clients/${userId}/memory`);
    expect(all.status).toBe(200);
    expect(all.body.order).toBe("newest first");
    expect(all.body.events.map((e: { messageId: string }) => e.messageId)).toEqual([`${userId}-cancel`, `${userId}-mug`, `${userId}-shoes`]);
    expect(all.body.events[0].score).toBeUndefined();
    const churn = await read(`/clients/${userId}/memory?stage=churn_signal`);
    expect(churn.body.events.map((e: { messageId: string }) => e.messageId)).toEqual([`${userId}-cancel`]);
    expect((await read(`/clients/${userId}/memory?limit=1`)).body.events).toHaveLength(1);
  });

  test("mode picks keyword, vector or hybrid scoring (hybrid by default)", async () => {
    const userId = `u-${uid()}`;
    await shopper(userId);
    const keyword = await read(`/clients/${userId}/memory?q=${encodeURIComponent("expensive")}&mode=keyword`);
    expect(keyword.body.mode).toBe("keyword");
    // Only events holding the word score in keyword mode.
    expect(keyword.body.events.map((e: { messageId: string }) => e.messageId)).toEqual([`${userId}-cancel`]);
    expect((await read(`/clients/${userId}/memory?q=shoes`)).body.mode).toBe("hybrid");
    const vector = await read(`/clients/${userId}/memory?q=${encodeURIComponent("running shoes")}&mode=vector`);
    expect(vector.body.events[0].messageId).toBe(`${userId}-shoes`);
    expect(vector.body.events).toHaveLength(3);
  });

  test("search across customers finds the customers whose history matches, with their matching events", async () => {
    const runner = `u-${uid()}`;
    const baker = `u-${uid()}`;
    await post("/v1/batch", {
      batch: [
        { type: "track", userId: runner, event: "Product Viewed", timestamp: at(0), properties: { product_id: "r1", name: "Marathon Running Shoes", category: "footwear" } },
        { type: "track", userId: baker, event: "Product Viewed", timestamp: at(0), properties: { product_id: "b1", name: "Bread Baking Oven Tray", category: "kitchen" } },
      ],
    });
    await pointsOf(runner, 1);
    await pointsOf(baker, 1);
    const r = await read(`/memory/search?q=${encodeURIComponent("marathon running shoes")}&limit=50&perCustomer=1`);
    expect(r.status).toBe(200);
    const ids = r.body.customers.map((c: any) => c.customerId);
    expect(ids).toContain(runner);
    expect(ids.indexOf(runner)).toBeLessThan(ids.indexOf(baker) === -1 ? Infinity : ids.indexOf(baker));
    const hit = r.body.customers.find((c: any) => c.customerId === runner);
    expect(hit.events).toHaveLength(1);
    expect(hit.events[0].text).toContain("Marathon Running Shoes");
  });

  test("similar customers are the ones with the nearest behaviour, with scores", async () => {
    const a = `u-${uid()}`;
    const b = `u-${uid()}`;
    const c = `u-${uid()}`;
    const viewed = (userId: string, name: string) => ({ type: "track", userId, event: "Product Viewed", timestamp: at(0), properties: { product_id: name, name } });
    await post("/v1/batch", { batch: [viewed(a, "Yoga Mat"), viewed(b, "Yoga Mat Strap"), viewed(c, "Garden Hose Reel")] });
    for (const id of [a, b, c]) await pointsOf(id, 1);
    const r = await read(`/clients/${a}/similar?k=100`);
    expect(r.status).toBe(200);
    expect(r.body.customerId).toBe(a);
    const ids = r.body.similar.map((s: any) => s.customerId);
    expect(ids).not.toContain(a);
    expect(ids.indexOf(b)).toBeGreaterThanOrEqual(0);
    expect(ids.indexOf(b)).toBeLessThan(ids.indexOf(c));
    expect(typeof r.body.similar[0].score).toBe("number");
  });
});

describe("identity stitching reaches memory", () => {
  test("anonymous events end up in the customer's memory after identify", async () => {
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
    await waitFor(async () => (await memory.count(`anon:${anonymousId}`)) === 0 && (await memory.count(userId)) >= 3, 20_000, "the visitor's points to move");
    const events = await memoryOf(userId, "camping tent");
    expect(events.slice(0, 2).map((e) => e.event).sort()).toEqual(["Page Viewed", "Product Viewed"]);
    // the anonymousId names the customer in the memory routes too
    expect((await memoryOf(anonymousId, "camping tent"))[0]!.event).toBeOneOf(["Page Viewed", "Product Viewed"]);
  });

  test("an anonymous event embedded after its visitor was merged is written under the customer", async () => {
    const anonymousId = `anon-${uid()}`;
    const userId = `u-${uid()}`;
    await post("/v1/identify", { userId, anonymousId, timestamp: at(0) });
    await waitFor(() => deps.profiles.get(userId), 20_000, "identify to apply");
    // An embed job queued for the visitor before the identify, running only now.
    const late = cleanEvent({ messageId: `late-${uid()}`, anonymousId, name: "Product Viewed", products: [{ id: "k", name: "Kayak Paddle", quantity: 1 }] });
    const [outcome] = await embedAndUpsert([{ customerId: `anon:${anonymousId}`, events: [late] }], embedDeps());
    expect(outcome!.embedded).toBe(1);
    expect(await memory.count(`anon:${anonymousId}`)).toBe(0);
    expect((await memoryOf(userId, "kayak paddle"))[0]!.messageId).toBe(late.messageId);
  });
});

describe("erasure", () => {
  test("DELETE erases profile, memory and identity links; a late event does not resurrect the customer", async () => {
    const anonymousId = `anon-${uid()}`;
    const userId = `u-${uid()}`;
    await post("/v1/track", { anonymousId, event: "Product Viewed", timestamp: at(0), properties: { product_id: "x", name: "Wool Scarf" } });
    await pointsOf(`anon:${anonymousId}`, 1);
    await post("/v1/identify", { userId, anonymousId, timestamp: at(1) });
    await shopper(userId);
    await pointsOf(userId, 5);

    const del = await call("DELETE", `/clients/${userId}`, TEST_KEYS.admin);
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ customerId: userId, identityLinks: 1 });
    expect(del.body.memoryPoints).toBeGreaterThanOrEqual(5);
    expect((await read(`/clients/${userId}`)).status).toBe(404);
    expect((await read(`/clients/${userId}/memory?q=shoes`)).status).toBe(404);
    expect((await read(`/clients/${anonymousId}`)).status).toBe(404);
    expect(await memory.count(userId)).toBe(0);
    expect(await deps.redis.get(deps.keys.identityLink(anonymousId))).toBeNull();

    // Late events, by userId and by the erased visitor's anonymousId, then a marker in the same
    // partition: once the marker is in memory, the late events have been through every stage.
    const marker = sameLaneCustomer(userId);
    await post("/v1/batch", {
      batch: [
        { type: "track", userId, event: "Order Completed", timestamp: at(90), properties: { revenue: 99 } },
        { type: "track", anonymousId, event: "Product Viewed", timestamp: at(91), properties: { product_id: "x", name: "Wool Scarf" } },
        { type: "track", userId: marker, event: "Signed In", timestamp: at(92) },
      ],
    });
    await pointsOf(marker, 1);
    await Bun.sleep(100);
    expect(await deps.profiles.get(userId)).toBeUndefined();
    expect(await deps.profiles.get(`anon:${anonymousId}`)).toBeUndefined();
    expect(await memory.count(userId)).toBe(0);
    expect(await memory.count(`anon:${anonymousId}`)).toBe(0);
    // An embed job for the erased customer that was already queued is skipped too.
    const [outcome] = await embedAndUpsert([{ customerId: userId, events: [cleanEvent({ messageId: `inflight-${uid()}`, userId, name: "Signed In" })] }], embedDeps());
    expect(outcome).toEqual({ embedded: 0, skippedErased: 1 });
    expect(await memory.count(userId)).toBe(0);
  });

  test("DELETE of an unknown customer is 404", async () => {
    expect((await call("DELETE", "/clients/nobody-at-all", TEST_KEYS.admin)).status).toBe(404);
  });
});

describe("roles and input checks", () => {
  const readRoutes = ["/clients/x/memory?q=shoes", "/memory/search?q=shoes", "/clients/x/similar"];
  for (const path of readRoutes) {
    test(`GET ${path.split("?")[0]} needs a read key: write and admin keys get 403, no key 401`, async () => {
      expect((await read(path, TEST_KEYS.write)).status).toBe(403);
      expect((await read(path, TEST_KEYS.admin)).status).toBe(403);
      expect((await call("GET", path, null)).status).toBe(401);
    });
  }

  test("DELETE /clients/:id needs an admin key: read and write keys get 403", async () => {
    const userId = `u-${uid()}`;
    await post("/v1/track", { userId, event: "Signed Up" });
    await waitFor(() => deps.profiles.get(userId), 20_000, "profile");
    expect((await call("DELETE", `/clients/${userId}`, TEST_KEYS.read)).status).toBe(403);
    expect((await call("DELETE", `/clients/${userId}`, TEST_KEYS.write)).status).toBe(403);
    expect((await read(`/clients/${userId}`)).status).toBe(200);
  });

  const badQueries = [
    { path: "/clients/u/memory?mode=keyword", field: "mode" },
    { path: "/clients/u/memory?q=x&mode=fuzzy", field: "mode" },
    { path: "/clients/u/memory?q=%20", field: "q" },
    { path: "/clients/u/memory?q=x&limit=0", field: "limit" },
    { path: "/clients/u/memory?q=x&limit=many", field: "limit" },
    { path: "/clients/u/memory?q=x&stage=bored", field: "stage" },
    { path: "/clients/u/memory?q=x&type=purchase", field: "type" },
    { path: "/clients/u/memory?q=x&since=yesterday", field: "since" },
    { path: "/clients/u/memory?q=x&since=2024-02-01&until=2024-01-01", field: "until" },
    { path: "/clients/u/memory?q=x&colour=red", field: "colour" },
    { path: "/memory/search?q=x&perCustomer=500", field: "perCustomer" },
    { path: "/clients/u/similar?k=-1", field: "k" },
  ];
  for (const { path, field } of badQueries)
    test(`GET ${path} is 400 naming ${field}`, async () => {
      const r = await read(path);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ error: "INVALID_REQUEST", field });
    });

  test("memory and similar of an unknown customer are 404", async () => {
    expect((await read("/clients/nobody-here/memory?q=shoes")).status).toBe(404);
    expect((await read("/clients/nobody-here/similar")).status).toBe(404);
  });
});

function embedDeps() {
  return { identities: workers.identities, suppression: workers.suppression, embedder, memory, log: createLogger(config), batchSize: 16, maxWaitMs: 10 };
}

/** Another customer whose events share `customerId`'s stream partition, so they are processed after it. */
function sameLaneCustomer(customerId: string): string {
  for (;;) {
    const candidate = `m-${uid()}`;
    if (workers.keys.partitionOf(candidate) === workers.keys.partitionOf(customerId)) return candidate;
  }
}

function cleanEvent(e: Partial<CleanEvent> & Pick<CleanEvent, "messageId" | "name">): CleanEvent {
  return { type: "track", ts: t0, receivedAt: t0, properties: {}, products: [], stage: "pre_conversion", flags: [], ...e };
}
