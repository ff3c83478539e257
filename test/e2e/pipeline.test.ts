import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import type { Config } from "../../src/config";
import { createLogger } from "../../src/log/logger";
import { startWorkers, type WorkerRuntime } from "../../queues/worker-runtime";
import { ingestHarness } from "../support/ingest-harness";
import { startRedis, type TestRedis } from "../support/redis-server";
import { TEST_KEYS, testConfig } from "../support/test-config";
import { waitFor } from "../support/wait-for";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

let redis: TestRedis;
let config: Config;
let h: Awaited<ReturnType<typeof ingestHarness>>;
let workers: WorkerRuntime;

beforeAll(async () => {
  redis = await startRedis();
  config = testConfig(redis.url, { LIFELINE_JOB_ATTEMPTS: "2", LIFELINE_JOB_BACKOFF_MS: "50" });
  h = await ingestHarness(config);
  workers = await startWorkers(config, createLogger(config));
});
afterAll(async () => {
  await workers.stop();
  h.close();
  await redis.stop();
});

const uid = () => crypto.randomUUID().slice(0, 8);

async function getClient(id: string) {
  const res = await h.app.handle(new Request(`http://localhost/clients/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${TEST_KEYS.read}` } }));
  return { status: res.status, body: (await res.json()) as any };
}

async function profileWhen(id: string, ready: (p: any) => boolean) {
  return waitFor(async () => {
    const r = await getClient(id);
    return r.status === 200 && ready(r.body.profile) ? r.body.profile : undefined;
  }, 20_000, `profile of ${id}`);
}

describe("stream → profile", () => {
  test("events posted to the API appear in the right customer's profile with stage, counts and revenue", async () => {
    const userId = `u-${uid()}`;
    const other = `u-${uid()}`;
    const t0 = Date.parse("2024-03-01T10:00:00Z");
    const at = (min: number) => new Date(t0 + min * 60_000).toISOString();
    await h.post("/v1/batch", {
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
    expect(p.orders).toBe(2);
    expect(p.revenue).toBe(30);
    expect(p.stageCounts).toEqual({ pre_conversion: 2, conversion: 1, post_conversion: 1, churn_signal: 1 });
    expect(p.currentStage).toBe("churn_signal");
    expect(p.stageTransitions.map((t: any) => t.to)).toEqual(["conversion", "post_conversion", "churn_signal"]);
    expect(p.firstSeen).toBe(t0);
    const o = await profileWhen(other, () => true);
    expect(o.eventCounts).toEqual({ "Product Viewed": 1 });
  });

  test("anonymous browsing followed by identify becomes part of the customer's profile", async () => {
    const anonymousId = `anon-${uid()}`;
    const userId = `u-${uid()}`;
    await h.post("/v1/batch", {
      batch: [
        { type: "page", anonymousId, name: "Pricing", timestamp: "2024-03-01T09:00:00Z" },
        { type: "track", anonymousId, event: "Product Viewed", timestamp: "2024-03-01T09:01:00Z", properties: { product_id: "p9" } },
      ],
    });
    await profileWhen(anonymousId, (p) => p.eventCounts["Product Viewed"] === 1);
    await h.post("/v1/identify", { userId, anonymousId, traits: { email: "x@example.com" }, timestamp: "2024-03-01T09:05:00Z" });
    await h.post("/v1/track", { userId, event: "Order Completed", properties: { revenue: 12 }, timestamp: "2024-03-01T09:10:00Z" });
    const p = await profileWhen(userId, (p) => p.orders === 1 && p.eventCounts["Product Viewed"] === 1);
    expect(p.identities.anonymousIds).toContain(anonymousId);
    expect(p.traits.email).toBe("x@example.com");
    expect(p.stageCounts.pre_conversion).toBeGreaterThanOrEqual(2);
    expect(p.firstSeen).toBe(Date.parse("2024-03-01T09:00:00Z"));
    // the anonymous id now names the customer
    expect((await getClient(anonymousId)).body.customerId).toBe(userId);
    // events that arrive later with only the anonymousId land under the customer too
    await h.post("/v1/track", { anonymousId, event: "Product Viewed", timestamp: "2024-03-01T09:20:00Z" });
    await profileWhen(userId, (p) => p.eventCounts["Product Viewed"] === 2);
  });

  test("an unknown customer is 404; a write key cannot read profiles", async () => {
    expect((await getClient("nobody-here")).status).toBe(404);
    const res = await h.app.handle(new Request("http://localhost/clients/x", { headers: { authorization: `Bearer ${TEST_KEYS.write}` } }));
    expect(res.status).toBe(403);
  });

  test("re-reading the same stream entries changes nothing", async () => {
    const userId = `u-${uid()}`;
    await h.post("/events", [1, 2, 3].map((i) => ({ type: "track", userId, event: "Product Viewed", messageId: `${userId}-${i}` })));
    await profileWhen(userId, (p) => p.eventCounts["Product Viewed"] === 3);
    // Put the same entries on the stream again, as a crashed consumer's retry would.
    const partition = h.deps.keys.partitionOf(userId);
    const entries = await h.deps.redis.xrange(h.deps.keys.stream(partition), "-", "+");
    for (const [, fields] of entries) if (fields.includes(`${userId}-1`)) await h.deps.redis.xadd(h.deps.keys.stream(partition), "*", ...fields);
    const marker = `${userId}-marker`;
    await h.post("/events", { type: "track", userId, event: "Signed In", messageId: marker });
    const p = await profileWhen(userId, (p) => p.eventCounts["Signed In"] === 1);
    expect(p.eventCounts["Product Viewed"]).toBe(3);
  });
});

describe("poison events", () => {
  test("an event the clean stage cannot parse is dead-lettered with its reason; the pipeline keeps flowing", async () => {
    const userId = `u-${uid()}`;
    const partition = h.deps.keys.partitionOf(userId);
    // A producer wrote garbage straight to the stream, beside a good event.
    await h.deps.redis.xadd(h.deps.keys.stream(partition), "*", "m", "poison-1", "e", "{not json", "m", `${userId}-ok`, "e", JSON.stringify({ type: "track", userId, event: "Signed In", messageId: `${userId}-ok`, timestamp: "2024-01-01T00:00:00.000Z", receivedAt: "2024-01-01T00:00:00.000Z" }));
    await profileWhen(userId, (p) => p.eventCounts["Signed In"] === 1);
    const letter = await waitFor(async () => (await workers.queues.deadLetter.getJobs(["waiting"])).find((j) => j.data.data.events?.[0]?.messageId === "poison-1"), 20_000, "dead letter");
    expect(letter.data.queue).toBe("clean");
    expect(letter.data.reason).toMatch(/JSON|parse/i);
    expect(letter.data.stack).toBeString();
    expect(letter.data.data.events[0].json).toBe("{not json");
    // still flowing
    const later = `u-${uid()}`;
    await h.post("/v1/track", { userId: later, event: "Signed Up" });
    await profileWhen(later, (p) => p.eventCounts["Signed Up"] === 1);
  });
});
