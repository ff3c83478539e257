import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { QdrantClient } from "@qdrant/js-client-rest";
import Redis from "ioredis";
import { httpStatus, LifelineError, StoreUnavailableError, UpstreamError, UpstreamTimeoutError } from "../../src/errors";
import { UnsupportedStoreError } from "../../src/errors/unsupported-store-error";
import { checkMemoryServer } from "../../src/memory/create-memory-store";
import { QdrantRest } from "../../src/memory/qdrant-rest";
import { QdrantStore } from "../../src/memory/qdrant-store";
import { keyspace } from "../../src/redis/keys";
import { qdrantAnswers, startFakeQdrant, type FakeQdrant } from "../support/fake-qdrant";
import { startRedis, type TestRedis } from "../support/redis-server";

// These answers are what Qdrant's schema documents; the tests check how Lifeline reads them.

let fake: FakeQdrant;
let rest: QdrantRest;
beforeAll(() => {
  fake = startFakeQdrant();
  rest = new QdrantRest({ url: fake.url, timeoutMs: 500 });
});
afterAll(() => fake.stop());
afterEach(() => {
  fake.requests.length = 0;
});

async function failure(run: () => Promise<unknown>): Promise<LifelineError> {
  try {
    await run();
  } catch (err) {
    if (err instanceof LifelineError) return err;
    throw err;
  }
  throw new Error("expected the call to fail");
}

const query = () => rest.query("lifeline_events", { query: [1, 0], limit: 3 });

test("a missing collection (404) keeps Qdrant's message and says what to do, instead of 'unreachable'", async () => {
  fake.script([qdrantAnswers.notFound("lifeline_events")]);
  const err = await failure(query);
  expect(err).toBeInstanceOf(UpstreamError);
  expect(err.message).toContain("HTTP 404: Not found: Collection `lifeline_events` doesn't exist!");
  expect(err.message).toContain("Restart Lifeline to create it again");
  expect(err.details).toMatchObject({ status: 404 });
  expect(httpStatus(err)).toBe(502);
});

test("a strict-mode refusal (400) keeps the index Qdrant asks for", async () => {
  fake.script([qdrantAnswers.strictMode("type")]);
  const err = await failure(query);
  expect(err).toBeInstanceOf(UpstreamError);
  expect(err.message).toContain('Index required but not found for "type"');
  expect(err.details).toMatchObject({ status: 400, qdrant: expect.stringContaining("Create an index for this key") });
});

test("429 with Retry-After: 12 is a retry in 12 s, not 1 s", async () => {
  fake.script([qdrantAnswers.rateLimited("12")]);
  const err = await failure(query);
  expect(err).toBeInstanceOf(StoreUnavailableError);
  expect(err.retryAfterSeconds).toBe(12);
  expect(err.message).toContain("Rate limiting exceeded");
  expect(httpStatus(err)).toBe(503);
});

test("429 with Retry-After as an HTTP date waits until that date", async () => {
  fake.script([qdrantAnswers.rateLimited(new Date(Date.now() + 30_000).toUTCString())]);
  const err = await failure(query);
  expect(err.retryAfterSeconds).toBeGreaterThan(25);
  expect(err.retryAfterSeconds).toBeLessThanOrEqual(30);
});

test("500 is an upstream error carrying Qdrant's description", async () => {
  fake.script([qdrantAnswers.serviceError()]);
  const err = await failure(() => rest.upsert("lifeline_events", { points: [{ id: 1, vector: [1, 0] }] }));
  expect(err).toBeInstanceOf(UpstreamError);
  expect(err.message).toContain("qdrant upsert: HTTP 500: Service internal error: No appendable segments exist");
});

test("503 (a shard moving) is 'unavailable, retry', with Qdrant's reason", async () => {
  fake.script([qdrantAnswers.unavailable()]);
  const err = await failure(query);
  expect(err).toBeInstanceOf(StoreUnavailableError);
  expect(err.message).toContain("Shard temporarily unavailable");
});

test("a write Qdrant did not finish within its wait is not taken as applied", async () => {
  fake.script([qdrantAnswers.ok({ operation_id: 7, status: "acknowledged" })]);
  expect(await failure(() => rest.upsert("lifeline_customers", { points: [{ id: 1, vector: [1, 0] }] }))).toBeInstanceOf(UpstreamTimeoutError);
});

test("an answer later than the client's timeout is a timeout", async () => {
  fake.script([{ ...qdrantAnswers.ok({ points: [] }), delayMs: 1_500 }]);
  const err = await failure(query);
  expect(err).toBeInstanceOf(UpstreamTimeoutError);
  expect(err.message).toContain("timed out after 500 ms");
});

test("a 200 whose body is not Qdrant's envelope is an unreadable answer, not a crash", async () => {
  fake.script([{ status: 200, body: "<html>proxy login</html>" }]);
  const err = await failure(query);
  expect(err).toBeInstanceOf(UpstreamError);
  expect(err.message).toContain("qdrant query returned an answer Lifeline cannot read");
});

test("every request is the one @qdrant/js-client-rest sends for the same call (method, path, query, body)", async () => {
  const client = new QdrantClient({ url: fake.url, checkCompatibility: false });
  const filter = { must: [{ key: "customerId", match: { value: "c1" } }] };
  const calls: [string, (c: QdrantClient | QdrantRest) => Promise<unknown>][] = [
    ["collection exists", (c) => c.collectionExists("e")],
    ["get collection", (c) => c.getCollection("e")],
    ["create collection", (c) => c.createCollection("e", { vectors: { size: 2, distance: "Cosine" } })],
    ["create payload index", (c) => c.createPayloadIndex("e", { field_name: "customerId", field_schema: { type: "keyword", is_tenant: true }, wait: true, ordering: "strong" })],
    ["conditional upsert", (c) => c.upsert("e", { wait: true, ordering: "strong", points: [{ id: "a", vector: [1, 0], payload: { version: 3 } }], update_filter: filter })],
    ["retrieve", (c) => c.retrieve("e", { ids: ["a"], with_payload: ["ts"], with_vector: true, consistency: "majority" })],
    ["delete by filter", (c) => c.delete("e", { filter, wait: true, ordering: "strong" })],
    ["set payload", (c) => c.setPayload("e", { payload: { customerId: "u" }, points: ["a"], wait: true, ordering: "strong" })],
    ["count", (c) => c.count("e", { filter, exact: true })],
    ["scroll", (c) => c.scroll("e", { filter, limit: 256, with_payload: ["ts"], with_vector: true, consistency: "majority" })],
    ["query", (c) => c.query("e", { query: [1, 0], filter, limit: 5, with_payload: true })],
    ["query groups", (c) => c.queryGroups("e", { query: [1, 0], group_by: "customerId", group_size: 2, limit: 3, with_payload: true })],
  ];
  const sent = async (c: QdrantClient | QdrantRest, call: (c: QdrantClient | QdrantRest) => Promise<unknown>) => {
    fake.requests.length = 0;
    await call(c);
    const [r] = fake.requests;
    return { method: r!.method, path: r!.path, query: [...new URLSearchParams(r!.query)].sort(), body: r!.body };
  };
  for (const [name, call] of calls) expect({ name, ...(await sent(rest, call)) }).toEqual({ name, ...(await sent(client, call)) });
});

test("no server at all is 'unreachable', naming the URL", async () => {
  const gone = startFakeQdrant();
  gone.stop();
  const err = await failure(() => new QdrantRest({ url: gone.url, timeoutMs: 500 }).versionInfo());
  expect(err).toBeInstanceOf(StoreUnavailableError);
  expect(err.message).toContain(`Qdrant at ${gone.url} is unreachable`);
});

test("the URL's credentials never appear in messages", () => {
  const withCredentials = new QdrantRest({ url: "https://user:secret@qdrant.example:6333", timeoutMs: 500 });
  expect(withCredentials.displayUrl).toBe("https://qdrant.example:6333");
});

describe("the server's version", () => {
  let redis: TestRedis;
  let client: Redis;
  let old: FakeQdrant;
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    old = startFakeQdrant({ version: "1.13.4" });
  });
  afterAll(async () => {
    old.stop();
    client.disconnect();
    await redis.stop();
  });

  test("a server reporting 1.13.4 is refused at init before anything is created, naming both versions", async () => {
    const store = new QdrantStore({ url: old.url, prefix: "t", modelId: "m", dimensions: 2, redis: client, keys: keyspace("t", 1), timeoutMs: 500 });
    const err = await failure(() => store.init());
    expect(err).toBeInstanceOf(UnsupportedStoreError);
    expect(err.message).toContain(`Qdrant at ${old.url} reports version 1.13.4; Lifeline needs Qdrant 1.16.0 or newer`);
    expect(old.requests.map((r) => `${r.method} ${r.path}`)).toEqual(["GET /"]);
  });

  test("the start-up check accepts 1.16.0 and refuses 1.15.x", async () => {
    const ok = startFakeQdrant({ version: "1.16.0" });
    const tooOld = startFakeQdrant({ version: "1.15.5" });
    try {
      await checkMemoryServer({ QDRANT_URL: ok.url });
      expect(await failure(() => checkMemoryServer({ QDRANT_URL: tooOld.url }))).toBeInstanceOf(UnsupportedStoreError);
    } finally {
      ok.stop();
      tooOld.stop();
    }
  });
});
