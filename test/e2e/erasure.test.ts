import { afterAll, beforeAll, expect, test } from "bun:test";
import { loadConfig } from "../../src/config";
import { createMemoryStore } from "../../src/memory/create-memory-store";
import { createEmbedder } from "../../src/embeddings/create-embedder";
import { entryEvents } from "../../src/streams/event-log";
import { startApiProcess, type ApiProcess } from "../support/api-process";
import { ingestHarness } from "../support/ingest-harness";
import { dumpKeys } from "../support/redis-dump";
import { startRedis, type TestRedis } from "../support/redis-server";
import { TEST_KEYS, testEnv } from "../support/test-config";
import { waitFor } from "../support/wait-for";
import { spawnWorker, type WorkerProcess } from "../support/worker-process";

// Issue 14.7–8 on real processes (an API process, a worker process): after DELETE /clients/:id no
// key, stream entry, job hash or dead letter holds the customer; nothing brings them back.
const TOMBSTONE_SECONDS = 3;
let redis: TestRedis;
let api: ApiProcess;
let worker: WorkerProcess;
let env: Record<string, string>;
let h: Awaited<ReturnType<typeof ingestHarness>>;

const uid = crypto.randomUUID().slice(0, 8);
const ada = { userId: `ada-${uid}`, device: `dev-${uid}`, email: `ada.${uid}@example.com`, name: `Ada Lovelace ${uid}`, phone: `+44 20 7946 ${uid.slice(0, 4)}` };
const pii = [ada.userId, ada.device, ada.email, ada.name, ada.phone];
let bob: string;

const call = async (method: string, path: string, body?: unknown, key: string = TEST_KEYS.read) => {
  const res = await fetch(`${api.url}${path}`, { method, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as any };
};
const track = (userId: string | undefined, event: string, extra: Record<string, unknown> = {}) => ({ type: "track", ...(userId ? { userId } : {}), event, messageId: crypto.randomUUID(), ...extra });

beforeAll(async () => {
  redis = await startRedis();
  env = testEnv(redis.url, { LIFELINE_ERASURE_TOMBSTONE_SECONDS: String(TOMBSTONE_SECONDS), LIFELINE_JOB_ATTEMPTS: "1", LIFELINE_RESCORE_DEBOUNCE_MS: "300" });
  h = await ingestHarness(loadConfig(env));
  // A neighbour in ada's partition: their events share requests and so stream entries.
  const partition = h.deps.keys.partitionOf(ada.userId);
  for (let i = 0; ; i++) if (h.deps.keys.partitionOf(`bob-${uid}-${i}`) === partition && h.deps.keys.partitionOf(ada.device) !== partition) {
    bob = `bob-${uid}-${i}`;
    break;
  }
  api = await startApiProcess(env);
  worker = spawnWorker(env);
  await worker.started;
});
afterAll(async () => {
  worker?.proc.kill("SIGTERM");
  await worker?.proc.exited;
  await api?.stop();
  h?.close();
  await redis.stop();
});

const leftovers = async () =>
  (await dumpKeys(h.deps.redis, h.deps.keys.prefix)).flatMap((k) =>
    pii.filter((p) => k.key.includes(p) || k.text.includes(p)).map((p) => ({ key: k.key, type: k.type, ttlSeconds: k.ttlSeconds, has: p })),
  );

test("after DELETE /clients/:id nothing in Redis names the customer (but the short-lived tombstones), their jobs are 404, and the neighbour keeps every event", async () => {
  const bobEvents = [track(bob, "Order Completed", { properties: { revenue: 10 } }), track(bob, "Product Viewed")];
  const adaEvents = [
    { type: "page", anonymousId: ada.device, name: "Pricing", messageId: crypto.randomUUID() },
    { type: "identify", userId: ada.userId, anonymousId: ada.device, traits: { email: ada.email, name: ada.name, phone: ada.phone }, messageId: crypto.randomUUID() },
    track(ada.userId, "Order Completed", { properties: { revenue: 42, email: ada.email } }),
    track(ada.userId, "Complaint Filed", { properties: { phone: ada.phone } }),
  ];
  expect((await call("POST", "/v1/batch", { batch: [adaEvents[0], bobEvents[0], adaEvents[1], adaEvents[2], bobEvents[1], adaEvents[3]] }, TEST_KEYS.write)).status).toBe(200);
  // A producer's broken event naming her goes straight to her partition: it ends as a dead letter.
  await h.deps.redis.xadd(h.deps.keys.stream(h.deps.keys.partitionOf(ada.userId)), "*", "m", crypto.randomUUID(), "e", `{"type":"identify","userId":"${ada.userId}","traits":{"email":"${ada.email}"`);
  const embedder = await createEmbedder(loadConfig(env));
  const memory = await createMemoryStore(loadConfig(env), embedder);
  await memory.init();
  try {
    await waitFor(async () => (await memory.count(ada.userId)) === 4 && (await memory.count(bob)) === 2, 30_000, "both customers in memory");
    await waitFor(async () => (await h.deps.queues["dead-letter"].getJobCounts("waiting")).waiting === 1, 30_000, "the dead letter");
    const scored = await call("POST", "/signals/churn?wait=true", { customerId: ada.userId });
    expect(scored.status).toBe(200);
    const jobId = scored.body.jobs[0].jobId;
    expect((await call("GET", `/signals/churn/${jobId}`)).body.insight.customerId).toBe(ada.userId);
    await waitFor(async () => (await h.deps.redis.zcard(h.deps.keys.rescoreDue())) === 0, 10_000, "the debounced re-score");
    expect((await leftovers()).length).toBeGreaterThan(0);

    const erased = await call("DELETE", `/clients/${ada.userId}`, undefined, TEST_KEYS.admin);
    expect(erased.status).toBe(200);

    expect((await call("GET", `/signals/churn/${jobId}`)).status).toBe(404);
    expect((await call("GET", `/clients/${ada.userId}`)).status).toBe(404);
    expect((await call("GET", `/clients/${ada.device}`)).status).toBe(404);
    expect(await memory.count(ada.userId)).toBe(0);
    // Only the tombstones name her, and only for LIFELINE_ERASURE_TOMBSTONE_SECONDS.
    const left = await leftovers();
    expect(left.filter((l) => !(l.key.endsWith(":erased") && l.ttlSeconds > 0 && l.ttlSeconds <= TOMBSTONE_SECONDS))).toEqual([]);

    const bobStored = (await h.storedEvents()).filter((e) => e.event.userId === bob).map((e) => e.messageId).sort();
    expect(bobStored).toEqual(bobEvents.map((e) => e.messageId).sort());
    expect((await call("GET", `/clients/${bob}`)).body.profile.eventCounts).toEqual({ "Order Completed": 1, "Product Viewed": 1 });
    expect(await memory.count(bob)).toBe(2);
  } finally {
    await memory.close();
  }
}, 120_000);

test("events, identity links and dead-letter replays do not bring an erased customer back, during the tombstone or after it", async () => {
  const newDevice = `dev2-${uid}`;
  const drained = async (marker: string) => {
    await waitFor(async () => (await call("GET", `/clients/${bob}`)).body?.profile?.eventCounts?.[marker] === 1, 30_000, `bob's ${marker}`);
    await waitFor(async () => {
      const [clean, embed] = await Promise.all([h.deps.queues.clean.getJobCounts("active", "waiting", "delayed"), h.deps.queues.embed.getJobCounts("active", "waiting", "delayed")]);
      return (await call("GET", "/ready")).body.checks.backlog === 0 && [clean, embed].every((c) => !c.active && !c.waiting && !c.delayed);
    }, 30_000, "the pipeline to drain");
  };
  // While the tombstone stands: she identifies on a new device; a late event of hers arrives.
  expect(await h.deps.redis.ttl(h.deps.keys.erased(ada.userId))).toBeGreaterThan(0);
  await call("POST", "/v1/batch", {
    batch: [
      { type: "identify", userId: ada.userId, anonymousId: newDevice, traits: { email: ada.email, name: ada.name }, messageId: crypto.randomUUID() },
      track(ada.userId, "Order Completed", { properties: { revenue: 7 } }),
      track(bob, "During"),
    ],
  }, TEST_KEYS.write);
  await drained("During");
  expect(await h.deps.redis.get(h.deps.keys.identityLink(newDevice))).toBeNull();

  await waitFor(async () => (await h.deps.redis.exists(h.deps.keys.erased(ada.userId))) === 0, (TOMBSTONE_SECONDS + 2) * 1000, "the tombstones to expire");
  // After it: her old device, her new one, her user id, and a replay of a dead letter of hers.
  await call("POST", "/v1/batch", {
    batch: [
      { type: "page", anonymousId: ada.device, name: "Pricing", messageId: crypto.randomUUID() },
      { type: "page", anonymousId: newDevice, name: "Home", messageId: crypto.randomUUID() },
      track(ada.userId, "Signed In", { properties: { email: ada.email } }),
      track(bob, "After"),
    ],
  }, TEST_KEYS.write);
  await drained("After");
  const partition = h.deps.keys.partitionOf(ada.userId);
  const raw = JSON.stringify({ type: "track", userId: ada.userId, event: "Order Completed", messageId: crypto.randomUUID(), timestamp: new Date().toISOString(), receivedAt: new Date().toISOString(), properties: { phone: ada.phone } });
  await h.deps.queues["dead-letter"].add("clean/batch", { queue: "clean", jobName: "batch", jobId: "late-1", data: { partition, events: [{ messageId: "late-1", json: raw }] }, reason: "boom", attemptsMade: 1, failedAt: new Date().toISOString() }, { jobId: "dl-clean-late-1" });
  const replay = await call("POST", "/admin/dead-letters/replay", {}, TEST_KEYS.admin);
  expect(replay.body).toEqual({ replayed: 0, skipped: [{ id: "dl-clean-late-1", reason: "erased customer: not replayed, removed" }], unknown: [] });

  expect((await call("GET", `/clients/${ada.userId}`)).status).toBe(404);
  expect((await call("GET", `/clients/${ada.device}`)).status).toBe(404);
  expect((await call("POST", "/signals/churn", { customerId: ada.userId })).status).toBe(404);
  // The new device is just an unknown visitor now: nothing ties it to her.
  const visitor = await call("GET", `/clients/${newDevice}`);
  expect(visitor.body.customerId).toBe(`anon:${newDevice}`);
  expect(visitor.body.profile.eventCounts).toEqual({ "Page Viewed": 1 });
  // Nothing names her any more, not even a tombstone; the suppression holds keyed hashes only.
  expect(await leftovers()).toEqual([]);
  expect(await h.deps.redis.zcard(h.deps.keys.suppressed())).toBe(2);
}, 120_000);

test("an operator can lift the suppression: then the customer's new events make them a customer again", async () => {
  const lifted = await call("POST", "/admin/suppressions/lift", { ids: [ada.userId] }, TEST_KEYS.admin);
  expect(lifted.body).toEqual({ lifted: 1 });
  expect((await call("POST", "/admin/suppressions/lift", { ids: ["\u0000"] }, TEST_KEYS.admin)).status).toBe(400);
  await call("POST", "/v1/track", track(ada.userId, "Signed Up"), TEST_KEYS.write);
  const back = await waitFor(async () => (await call("GET", `/clients/${ada.userId}`)).body?.profile, 30_000, "her new profile");
  expect(back.eventCounts).toEqual({ "Signed Up": 1 });
  expect(await h.deps.redis.zcard(h.deps.keys.suppressed())).toBe(1); // her old device stays suppressed
}, 60_000);
