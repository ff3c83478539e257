import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { ingestHarness } from "../support/ingest-harness";
import { startRedis, type TestRedis } from "../support/redis-server";
import { TEST_KEYS, testConfig } from "../support/test-config";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

let redis: TestRedis;
let h: Awaited<ReturnType<typeof ingestHarness>>;

beforeAll(async () => {
  redis = await startRedis();
  h = await ingestHarness(testConfig(redis.url));
});
afterAll(async () => {
  h.close();
  await redis.stop();
});

const uid = () => crypto.randomUUID();
const track = (extra: Record<string, unknown> = {}) => ({
  type: "track",
  event: "Product Viewed",
  userId: `u-${uid()}`,
  messageId: `m-${uid()}`,
  properties: { name: "Mug", price: 4.5 },
  ...extra,
});

async function landed(messageId: string) {
  return (await h.storedEvents()).filter((e) => e.messageId === messageId);
}

describe("accepting events", () => {
  test("a track call is written to the stream with receivedAt and a resolved timestamp", async () => {
    const e = track({ timestamp: "2024-05-01T10:00:00.000Z" });
    const res = await h.post("/v1/track", { ...e, type: undefined });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ accepted: 1, duplicates: 0, rejected: [] });
    const [stored] = await landed(e.messageId);
    expect(stored!.event).toMatchObject({ type: "track", event: "Product Viewed", userId: e.userId, timestamp: "2024-05-01T10:00:00.000Z" });
    expect(Date.now() - Date.parse(stored!.event.receivedAt)).toBeLessThan(10_000);
  });

  test("/events takes one event or an array", async () => {
    const single = await h.post("/events", track());
    const many = await h.post("/events", [track(), track({ type: "identify", event: undefined, traits: { plan: "pro" } })]);
    expect(single.body.accepted).toBe(1);
    expect(many.body.accepted).toBe(2);
  });

  test.each(["identify", "page", "screen", "group", "alias"] as const)("/v1/%s stores the call with its type", async (type) => {
    const messageId = `m-${uid()}`;
    const body: Record<string, unknown> = { userId: `u-${uid()}`, messageId, traits: { a: 1 }, name: "Home" };
    if (type === "group") body.groupId = "g1";
    if (type === "alias") body.previousId = "anon-1";
    const res = await h.post(`/v1/${type}`, body);
    expect(res.status).toBe(200);
    expect((await landed(messageId))[0]!.event.type).toBe(type);
  });

  test("a batch's sentAt, context and integrations apply to each event, unknown fields are kept", async () => {
    const receivedFloor = Date.now();
    const a = track({ originalTimestamp: "2024-01-01T00:00:00.000Z", context: { ip: "1.2.3.4" }, _metadata: { bundled: ["x"] } });
    const b = track({ originalTimestamp: "2024-01-01T00:00:05.000Z" });
    const res = await h.post("/v1/batch", {
      batch: [a, b],
      sentAt: "2024-01-01T00:00:10.000Z",
      context: { library: { name: "analytics-node" }, ip: "9.9.9.9" },
      integrations: { All: true },
    });
    expect(res.body).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    const [sa] = await landed(a.messageId);
    const [sb] = await landed(b.messageId);
    expect(sa!.event.context).toEqual({ library: { name: "analytics-node" }, ip: "1.2.3.4" });
    expect(sa!.event.integrations).toEqual({ All: true });
    expect(sa!.event._metadata).toEqual({ bundled: ["x"] });
    expect(sb!.event.sentAt).toBe("2024-01-01T00:00:10.000Z");
    // timestamp = receivedAt − (sentAt − originalTimestamp): 10 s and 5 s before receipt
    const skewA = Date.parse(sa!.event.receivedAt) - Date.parse(sa!.event.timestamp);
    const skewB = Date.parse(sb!.event.receivedAt) - Date.parse(sb!.event.timestamp);
    expect(skewA).toBe(10_000);
    expect(skewB).toBe(5_000);
    expect(Date.parse(sa!.event.receivedAt)).toBeGreaterThanOrEqual(receivedFloor - 1);
  });

  test("an event more than 23 h in the future is kept and flagged", async () => {
    const e = track({ timestamp: new Date(Date.now() + 48 * 3_600_000).toISOString() });
    const soon = track({ timestamp: new Date(Date.now() + 3_600_000).toISOString() });
    await h.post("/events", [e, soon]);
    expect((await landed(e.messageId))[0]!.event._lifeline.flags).toContain("timestamp_in_future");
    expect((await landed(soon.messageId))[0]!.event._lifeline).toBeUndefined();
  });

  test("a missing messageId is generated and flagged", async () => {
    const userId = `u-${uid()}`;
    const res = await h.post("/v1/track", { userId, event: "Signed Up" });
    expect(res.body.accepted).toBe(1);
    const stored = (await h.storedEvents()).find((e) => e.event.userId === userId)!;
    expect(stored.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(stored.event._lifeline.flags).toContain("message_id_generated");
  });

  test("gzip-encoded bodies are accepted", async () => {
    const e = track();
    const res = await h.post("/v1/batch", { batch: [e] }, { gzip: true });
    expect(res.body.accepted).toBe(1);
    expect(await landed(e.messageId)).toHaveLength(1);
  });
});

describe("idempotency", () => {
  test("a messageId seen before is reported as a duplicate and not appended again", async () => {
    const e = track();
    const first = await h.post("/events", e);
    const again = await h.post("/events", [e, e]);
    expect(first.body).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 2 });
    expect(await landed(e.messageId)).toHaveLength(1);
  });

  test("racing requests with the same messageId append it exactly once", async () => {
    const e = track();
    const results = await Promise.all(Array.from({ length: 25 }, () => h.post("/events", e)));
    const accepted = results.reduce((n, r) => n + r.body.accepted, 0);
    expect(accepted).toBe(1);
    expect(await landed(e.messageId)).toHaveLength(1);
  });
});

describe("partitioning", () => {
  test("one customer's events land in one partition, in order", async () => {
    const userId = `u-${uid()}`;
    const events = Array.from({ length: 30 }, (_, i) => track({ userId, messageId: `m-${uid()}-${i}` }));
    await h.post("/v1/batch", { batch: events });
    const stored = (await h.storedEvents()).filter((e) => e.event.userId === userId);
    expect(new Set(stored.map((s) => s.partition)).size).toBe(1);
    expect(stored.map((s) => s.messageId)).toEqual(events.map((e) => e.messageId));
  });

  test("stream keys carry a hash tag per partition", () => {
    expect(h.deps.keys.stream(3)).toMatch(/\{p3\}/);
    expect(h.deps.keys.dedupBucket(3, 42)).toMatch(/\{p3\}/);
  });
});

describe("auth", () => {
  const e = () => track();
  test.each([
    ["Bearer", (k: string) => ({ authorization: `Bearer ${k}` })],
    ["Basic (write key as user)", (k: string) => ({ authorization: `Basic ${Buffer.from(`${k}:`).toString("base64")}` })],
    ["X-Write-Key", (k: string) => ({ "x-write-key": k })],
  ])("a write key sent as %s is accepted", async (_name, header) => {
    const res = await h.post("/events", e(), { key: null, headers: header(TEST_KEYS.write) });
    expect(res.status).toBe(200);
  });

  test("no key, a wrong key → 401; a read key → 403; nothing is stored", async () => {
    const a = e();
    const none = await h.post("/events", a, { key: null });
    const wrong = await h.post("/events", a, { key: "nope" });
    const read = await h.post("/events", a, { key: TEST_KEYS.read });
    expect([none.status, wrong.status, read.status]).toEqual([401, 401, 403]);
    expect(await landed(a.messageId)).toHaveLength(0);
  });
});

describe("rejections", () => {
  test("every rejection carries index, messageId (null when the event had none) and errors", async () => {
    const res = await h.post("/v1/batch", { batch: [{ type: "track", userId: "u" }, "not an object", track(), { type: "track", userId: "u", messageId: "bad-2" }] });
    expect(res.status).toBe(200);
    expect(res.body.rejected).toEqual([
      { index: 0, messageId: null, errors: [expect.objectContaining({ path: "event" })] },
      { index: 1, messageId: null, errors: [{ path: "", message: "each event must be a JSON object" }] },
      { index: 3, messageId: "bad-2", errors: [expect.objectContaining({ path: "event" })] },
    ]);
  });
});
