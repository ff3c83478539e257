import { afterAll, beforeAll, expect, test, setDefaultTimeout } from "bun:test";
import { ingestHarness, type PostOptions } from "../support/ingest-harness";
import { startRedis, type TestRedis } from "../support/redis-server";
import { testConfig } from "../support/test-config";

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

const good = () => ({ type: "track", event: "Order Completed", userId: "u-good", messageId: `good-${crypto.randomUUID()}` });
const nest = (depth: number): unknown => (depth === 0 ? 1 : { a: nest(depth - 1) });

type Case = {
  name: string;
  /** The bad event, sent in a batch beside a good one (index 1). */
  event?: unknown;
  /** Or a whole request of its own. */
  path?: string;
  body?: unknown;
  opts?: PostOptions;
  status: number;
  field?: string;
};

const cases: Case[] = [
  // bad events inside a batch: rejected by index, the good neighbour lands
  { name: "event is a string", event: "hello", status: 200, field: "" },
  { name: "event is null", event: null, status: 200, field: "" },
  { name: "event is an array", event: [1, 2], status: 200, field: "" },
  { name: "type missing", event: { event: "X", userId: "u" }, status: 200, field: "type" },
  { name: "type unknown", event: { type: "purchase", userId: "u" }, status: 200, field: "type" },
  { name: "type is a number", event: { type: 7, userId: "u" }, status: 200, field: "type" },
  { name: "no userId nor anonymousId", event: { type: "track", event: "X" }, status: 200, field: "userId" },
  { name: "userId empty string", event: { type: "track", event: "X", userId: "" }, status: 200, field: "userId" },
  { name: "userId is an object", event: { type: "track", event: "X", userId: { id: 1 } }, status: 200, field: "userId" },
  { name: "userId with control characters", event: { type: "track", event: "X", userId: "a\u0000b" }, status: 200, field: "userId" },
  { name: "userId with a lone surrogate", event: { type: "track", event: "X", userId: "a\ud800" }, status: 200, field: "userId" },
  { name: "anonymousId with NUL", event: { type: "track", event: "X", anonymousId: "\u0000" }, status: 200, field: "anonymousId" },
  { name: "userId longer than 256", event: { type: "track", event: "X", userId: "u".repeat(300) }, status: 200, field: "userId" },
  { name: "track without event name", event: { type: "track", userId: "u" }, status: 200, field: "event" },
  { name: "track event name blank", event: { type: "track", userId: "u", event: "   " }, status: 200, field: "event" },
  { name: "track event name is a number", event: { type: "track", userId: "u", event: 42 }, status: 200, field: "event" },
  { name: "properties is an array", event: { type: "track", userId: "u", event: "X", properties: [1] }, status: 200, field: "properties" },
  { name: "properties is a string", event: { type: "track", userId: "u", event: "X", properties: "a=1" }, status: 200, field: "properties" },
  { name: "traits is a number", event: { type: "identify", userId: "u", traits: 5 }, status: 200, field: "traits" },
  { name: "context is a string", event: { type: "track", userId: "u", event: "X", context: "web" }, status: 200, field: "context" },
  { name: "group without groupId", event: { type: "group", userId: "u" }, status: 200, field: "groupId" },
  { name: "alias without previousId", event: { type: "alias", userId: "u" }, status: 200, field: "previousId" },
  { name: "alias without userId", event: { type: "alias", anonymousId: "a", previousId: "p" }, status: 200, field: "userId" },
  { name: "timestamp as epoch number", event: { type: "track", userId: "u", event: "X", timestamp: 1714557600000 }, status: 200, field: "timestamp" },
  { name: "timestamp free text", event: { type: "track", userId: "u", event: "X", timestamp: "yesterday" }, status: 200, field: "timestamp" },
  { name: "timestamp impossible date", event: { type: "track", userId: "u", event: "X", timestamp: "2024-02-30T10:00:00Z" }, status: 200, field: "timestamp" },
  { name: "timestamp 25 o'clock", event: { type: "track", userId: "u", event: "X", timestamp: "2024-02-01T25:00:00Z" }, status: 200, field: "timestamp" },
  { name: "sentAt not ISO", event: { type: "track", userId: "u", event: "X", sentAt: "01/02/2024" }, status: 200, field: "sentAt" },
  { name: "originalTimestamp not ISO", event: { type: "track", userId: "u", event: "X", originalTimestamp: "2024-1-1" }, status: 200, field: "originalTimestamp" },
  { name: "messageId empty", event: { type: "track", userId: "u", event: "X", messageId: "" }, status: 200, field: "messageId" },
  { name: "properties nested 40 deep", event: { type: "track", userId: "u", event: "X", properties: nest(40) }, status: 200, field: "properties" },
  { name: "event over 32 KB", event: { type: "track", userId: "u", event: "X", properties: { blob: "x".repeat(40_000) } }, status: 200, field: "" },
  // whole requests
  { name: "body is not JSON", path: "/events", opts: { raw: "{not json" }, status: 400 },
  { name: "body is empty", path: "/events", opts: { raw: "" }, status: 400 },
  { name: "body is invalid UTF-8", path: "/events", opts: { raw: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) }, status: 400 },
  { name: "body is a JSON number", path: "/events", body: 12, status: 400 },
  { name: "wrong content type (form)", path: "/events", body: good(), opts: { headers: { "content-type": "application/x-www-form-urlencoded" } }, status: 415 },
  { name: "wrong content type (text)", path: "/v1/track", body: good(), opts: { headers: { "content-type": "text/plain" } }, status: 415 },
  { name: "unsupported content encoding", path: "/events", body: good(), opts: { headers: { "content-encoding": "br" } }, status: 415 },
  { name: "gzip header but plain body", path: "/events", body: good(), opts: { headers: { "content-encoding": "gzip" } }, status: 400 },
  { name: "body over 500 KB", path: "/v1/batch", body: { batch: Array.from({ length: 30 }, () => ({ ...good(), properties: { p: "y".repeat(20_000) } })) }, status: 413 },
  { name: "gzip bomb over 500 KB once inflated", path: "/v1/batch", body: { batch: [{ ...good(), properties: { p: "0".repeat(2_000_000) } }] }, opts: { gzip: true }, status: 413 },
  { name: "a single event over 32 KB", path: "/v1/track", body: { ...good(), properties: { blob: "z".repeat(40_000) } }, status: 413 },
  { name: "batch is not an array", path: "/v1/batch", body: { batch: { a: 1 } }, status: 400 },
  { name: "batch missing", path: "/v1/batch", body: { events: [good()] }, status: 400 },
  { name: "batch empty", path: "/v1/batch", body: { batch: [] }, status: 400 },
  { name: "huge array of tiny events", path: "/events", body: Array.from({ length: 3_000 }, () => 1), status: 413 },
  { name: "array sent to /v1/track", path: "/v1/track", body: [good()], status: 400 },
  { name: "JSON nested 100k deep", path: "/events", opts: { raw: "[".repeat(100_000) + "]".repeat(100_000) }, status: 400 },
  { name: "single track missing userId", path: "/v1/track", body: { event: "X" }, status: 400, field: "userId" },
];

test(`the table has at least 30 bad inputs (${cases.length})`, () => expect(cases.length).toBeGreaterThanOrEqual(30));

for (const c of cases)
  test(`${c.name} → ${c.status}${c.event !== undefined ? ", the good neighbour lands" : ""}`, async () => {
    if (c.event !== undefined) {
      const neighbour = good();
      const res = await h.post("/v1/batch", { batch: [neighbour, c.event] });
      expect(res.status).toBe(c.status);
      expect(res.body.accepted).toBe(1);
      expect(res.body.rejected).toHaveLength(1);
      const [rejection] = res.body.rejected;
      expect(rejection.index).toBe(1);
      expect(rejection.errors.length).toBeGreaterThan(0);
      const paths: string[] = rejection.errors.map((e: { path: string }) => e.path);
      expect(paths.some((p) => p === c.field || (c.field !== "" && p.startsWith(`${c.field}.`)))).toBe(true);
      for (const e of rejection.errors) expect(typeof e.message).toBe("string");
      expect((await h.storedEvents()).some((e) => e.messageId === neighbour.messageId)).toBe(true);
    } else {
      const res = await h.post(c.path!, c.body, c.opts);
      expect(res.status).toBe(c.status);
      expect(typeof res.body.error).toBe("string");
      if (c.status === 413) expect(JSON.stringify(res.body)).toMatch(/limit/);
      if (c.field !== undefined) expect(res.body.rejected[0].errors.map((e: { path: string }) => e.path)).toContain(c.field);
    }
  });

test("the server keeps serving after every bad input", async () => {
  const e = good();
  const res = await h.post("/v1/track", e);
  expect(res.status).toBe(200);
  expect(res.body.accepted).toBe(1);
});

test("a rejected event names its messageId when it had one", async () => {
  const res = await h.post("/v1/batch", { batch: [{ type: "track", userId: "u", messageId: "bad-1" }] });
  expect(res.status).toBe(400);
  expect(res.body.rejected[0]).toMatchObject({ index: 0, messageId: "bad-1" });
});
