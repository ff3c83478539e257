import { afterEach, beforeEach, describe, expect, test, setDefaultTimeout } from "bun:test";
import { configSchema } from "../../src/config/schema";
import { createCircuitBreaker } from "../../src/inference/circuit-breaker";
import { createEmbedder } from "../../src/embeddings/create-embedder";
import { UpstreamError } from "../../src/errors/upstream-error";
import { UpstreamTimeoutError } from "../../src/errors/upstream-timeout-error";
import { createOpenAICompatibleEmbedder, type EmbedOutcome, type OpenAICompatibleEmbedderOptions } from "../../src/embeddings/openai-compatible";
import { startFakeOpenAI, type FakeOpenAI } from "../support/fake-openai";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

let fake: FakeOpenAI;
let outcomes: EmbedOutcome[];
let sleeps: number[];

beforeEach(() => {
  fake = startFakeOpenAI({ embeddingDimensions: 16 });
  outcomes = [];
  sleeps = [];
});
afterEach(() => fake.stop());

const embedder = (overrides: Partial<OpenAICompatibleEmbedderOptions> = {}) =>
  createOpenAICompatibleEmbedder({
    baseURL: fake.url,
    apiKey: "test-key",
    model: "fake-embedding",
    dimensions: 16,
    batchSize: 2,
    timeoutMs: 300,
    maxRetries: 2,
    backoffBaseMs: 10,
    onOutcome: (o) => outcomes.push(o),
    // Record the waits instead of spending them, so Retry-After can be checked exactly.
    sleep: async (ms) => void sleeps.push(ms),
    ...overrides,
  });

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const embeddingRequests = () => fake.requests.filter((r) => r.route === "embeddings");

test("embeds texts in batches of batchSize, in input order, as unit vectors", async () => {
  const texts = ["alpha", "beta", "gamma", "alpha", "delta"];
  const vectors = await embedder().embed(texts);
  expect(vectors).toHaveLength(5);
  for (const v of vectors) {
    expect(v).toHaveLength(16);
    expect(norm(v)).toBeCloseTo(1, 5);
  }
  expect(Array.from(vectors[3]!)).toEqual(Array.from(vectors[0]!)); // same text, same vector
  expect(Array.from(vectors[1]!)).not.toEqual(Array.from(vectors[0]!));
  expect(embeddingRequests().map((r) => (r.body as { input: string[] }).input)).toEqual([["alpha", "beta"], ["gamma", "alpha"], ["delta"]]);
  expect(embeddingRequests()[0]!.headers.authorization).toBe("Bearer test-key");
  expect(outcomes).toEqual(["ok", "ok", "ok"]);
});

test("an empty input makes no request", async () => {
  expect(await embedder().embed([])).toEqual([]);
  expect(fake.requests).toHaveLength(0);
});

test("text-embedding-3 models are asked for the configured dimensions; others are not", async () => {
  await embedder({ model: "text-embedding-3-small" }).embed(["a"]);
  await embedder().embed(["a"]);
  expect(embeddingRequests().map((r) => (r.body as { dimensions?: number }).dimensions)).toEqual([16, undefined]);
});

test("a 429 with Retry-After in seconds waits that long, then succeeds", async () => {
  fake.script("embeddings", [{ kind: "rate-limit", retryAfter: "2" }]);
  const vectors = await embedder().embed(["a"]);
  expect(vectors).toHaveLength(1);
  // Until the deadline the answer set (shared by every call of the embedder), so a few ms less.
  expect(sleeps).toHaveLength(1);
  expect(sleeps[0]!).toBeGreaterThan(1_900);
  expect(sleeps[0]!).toBeLessThanOrEqual(2_000);
  expect(outcomes).toEqual(["retry", "ok"]);
  expect(embeddingRequests()).toHaveLength(2);
});

test("a 429 with Retry-After as an HTTP date waits until that date", async () => {
  fake.script("embeddings", [{ kind: "rate-limit", retryAfter: new Date(Date.now() + 5000).toUTCString() }]);
  await embedder().embed(["a"]);
  expect(sleeps).toHaveLength(1);
  expect(sleeps[0]!).toBeGreaterThan(3000);
  expect(sleeps[0]!).toBeLessThanOrEqual(5000);
});

test("a Retry-After longer than maxDelayMs is not waited for; the error carries it", async () => {
  fake.script("embeddings", [{ kind: "rate-limit", retryAfter: "120" }]);
  const err = await embedder({ maxDelayMs: 10_000 }).embed(["a"]).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UpstreamError);
  expect((err as UpstreamError).retryAfterSeconds).toBe(120);
  expect(sleeps).toEqual([]);
  expect(outcomes).toEqual(["error"]);
});

test("a 500 is retried with exponential backoff, then succeeds", async () => {
  fake.script("embeddings", [{ kind: "server-error" }, { kind: "server-error", status: 503 }]);
  const vectors = await embedder({ backoffBaseMs: 100 }).embed(["a", "b"]);
  expect(vectors).toHaveLength(2);
  expect(outcomes).toEqual(["retry", "retry", "ok"]);
  expect(sleeps[0]!).toBeGreaterThanOrEqual(50);
  expect(sleeps[0]!).toBeLessThanOrEqual(100);
  expect(sleeps[1]!).toBeGreaterThanOrEqual(100);
  expect(sleeps[1]!).toBeLessThanOrEqual(200);
});

test("a 400 is not retried", async () => {
  fake.script("embeddings", [{ kind: "status", status: 400, message: "bad input" }]);
  const err = await embedder().embed(["a"]).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UpstreamError);
  expect(embeddingRequests()).toHaveLength(1);
  expect(outcomes).toEqual(["error"]);
});

test("a server that never answers ends in UpstreamTimeoutError after every retry", async () => {
  fake.script("embeddings", [{ kind: "hang" }, { kind: "hang" }, { kind: "hang" }]);
  const started = performance.now();
  const err = await embedder({ timeoutMs: 150 }).embed(["a"]).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UpstreamTimeoutError);
  expect((err as UpstreamTimeoutError).details).toEqual({ attempts: 3 });
  expect(embeddingRequests()).toHaveLength(3);
  expect(outcomes).toEqual(["retry", "retry", "timeout"]);
  expect(performance.now() - started).toBeGreaterThanOrEqual(3 * 140);
});

test("a hang followed by an answer succeeds on the retry", async () => {
  fake.script("embeddings", [{ kind: "hang" }]);
  expect(await embedder({ timeoutMs: 150 }).embed(["a"])).toHaveLength(1);
  expect(outcomes).toEqual(["retry", "ok"]);
});

test("vectors of the wrong dimension are an UpstreamError naming both sizes, not retried", async () => {
  fake.script("embeddings", [{ kind: "wrong-dimension", dimensions: 12 }]);
  const err = await embedder().embed(["a"]).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(UpstreamError);
  expect((err as UpstreamError).details).toMatchObject({ expected: 16, received: 12 });
  expect(embeddingRequests()).toHaveLength(1);
});

const malformed = [
  { name: "invalid JSON", body: '{"data": [' },
  { name: "JSON without data", body: '{"result": "ok"}' },
  { name: "fewer vectors than texts", body: JSON.stringify({ data: [{ index: 0, embedding: Array(16).fill(0.1) }] }) },
  { name: "an HTML error page", body: "<html>bad gateway</html>", contentType: "text/html" },
];
for (const { name, body, contentType } of malformed) {
  test(`a malformed body (${name}) is a glitch: retried, and a good answer after it is used`, async () => {
    fake.script("embeddings", [{ kind: "malformed", body, contentType }]);
    expect(await embedder().embed(["a", "b"])).toHaveLength(2);
    expect(outcomes).toEqual(["retry", "ok"]);
  });
  test(`a malformed body (${name}) every time ends in an UpstreamError saying when to try again`, async () => {
    fake.script("embeddings", Array.from({ length: 3 }, () => ({ kind: "malformed" as const, body, contentType })));
    const err = await embedder().embed(["a", "b"]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(outcomes).toEqual(["retry", "retry", "error"]);
  });
}

test("the fake chat route answers scripted structured output", async () => {
  const { default: OpenAI } = await import("openai");
  fake.script("chat", [{ kind: "ok", content: '{"risk":"high"}' }]);
  const client = new OpenAI({ baseURL: fake.url, apiKey: "k", maxRetries: 0 });
  const res = await client.chat.completions.create({
    model: "m",
    messages: [{ role: "user", content: "hi" }],
    response_format: { type: "json_schema", json_schema: { name: "x", schema: { type: "object" } } },
  });
  expect(JSON.parse(res.choices[0]!.message.content!)).toEqual({ risk: "high" });
  expect(fake.requests[0]!.route).toBe("chat");
});

const refusals = [
  { status: 401, hint: "check OPENAI_API_KEY" },
  { status: 403, hint: "check OPENAI_API_KEY and the model's access" },
  { status: 404, hint: "check LIFELINE_EMBEDDING_MODEL and OPENAI_BASE_URL" },
];
for (const { status, hint } of refusals)
  test(`a ${status} is not retried; the error names the model, the endpoint, the server's message and the setting, and says when to try again`, async () => {
    fake.script("embeddings", [{ kind: "status", status, message: `the server says ${status}` }]);
    const err = (await embedder().embed(["a"]).catch((e: unknown) => e)) as UpstreamError;
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.message).toBe(`embeddings from fake-embedding at ${fake.url}: HTTP ${status}: the server says ${status}; ${hint} (after 1 attempt)`);
    expect(err.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(embeddingRequests()).toHaveLength(1);
  });

test("a 400 (this input refused) carries no retry time: the job's own retries decide", async () => {
  fake.script("embeddings", [{ kind: "status", status: 400, message: "input too long" }]);
  const err = (await embedder().embed(["a"]).catch((e: unknown) => e)) as UpstreamError;
  expect(err.retryAfterSeconds).toBeUndefined();
});

test("consecutive failures open the embedder's breaker: later calls fail at once, without a request, saying when it tries again", async () => {
  let nowMs = 0;
  const breaker = createCircuitBreaker({ failureThreshold: 3, cooldownMs: 7_000, now: () => nowMs });
  const e = embedder({ breaker, maxRetries: 5 });
  fake.script("embeddings", Array.from({ length: 3 }, () => ({ kind: "server-error" as const })));
  const first = (await e.embed(["a"]).catch((x: unknown) => x)) as UpstreamError;
  expect(first.message).toContain("HTTP 500: server error (after 3 attempts)");
  expect(first.retryAfterSeconds).toBe(7);
  const second = (await e.embed(["b"]).catch((x: unknown) => x)) as UpstreamError;
  expect(second.message).toBe(`embeddings from fake-embedding at ${fake.url}: paused after repeated failures (last: embeddings from fake-embedding at ${fake.url}: HTTP 500: server error)`);
  expect(second.retryAfterSeconds).toBe(7);
  expect(embeddingRequests()).toHaveLength(3);
  nowMs = 7_000;
  expect(await e.embed(["c"])).toHaveLength(1); // the trial, answered
  expect(breaker.state()).toBe("closed");
});

test("one Retry-After holds for every call of the embedder: a call made meanwhile waits instead of getting its own 429", async () => {
  fake.script("embeddings", [{ kind: "rate-limit", retryAfter: "1" }]);
  const e = embedder({ sleep: Bun.sleep });
  const first = e.embed(["a"]);
  while (embeddingRequests().length === 0) await Bun.sleep(5);
  await Bun.sleep(50);
  const second = e.embed(["b"]);
  await Bun.sleep(300);
  expect(embeddingRequests()).toHaveLength(1);
  await Promise.all([first, second]);
  const [limited, ...later] = embeddingRequests();
  expect(later).toHaveLength(2);
  for (const r of later) expect(r.receivedAt - limited!.receivedAt).toBeGreaterThanOrEqual(990);
});

describe("createEmbedder", () => {
  const config = (env: Record<string, string>) => configSchema.parse({ EMBEDDINGS_PROVIDER: "openai", OPENAI_BASE_URL: fake.url, ...env });

  test("EMBEDDINGS_PROVIDER=openai embeds through OPENAI_BASE_URL with LIFELINE_EMBEDDING_MODEL", async () => {
    const e = await createEmbedder(config({ LIFELINE_EMBEDDING_MODEL: "my-model", OPENAI_API_KEY: "k2" }), { dimensions: 16 });
    expect(e.dimensions).toBe(16);
    expect(await e.embed(["a"])).toHaveLength(1);
    expect(embeddingRequests()[0]!.body).toMatchObject({ model: "my-model", input: ["a"] });
    expect(embeddingRequests()[0]!.headers.authorization).toBe("Bearer k2");
  });

  test("a known OpenAI model needs no dimensions setting", async () => {
    expect((await createEmbedder(config({ LIFELINE_EMBEDDING_MODEL: "text-embedding-3-large" }))).dimensions).toBe(3072);
  });

  test("an unknown model without dimensions fails naming the setting to fix", async () => {
    await expect(createEmbedder(config({ LIFELINE_EMBEDDING_MODEL: "my-model" }))).rejects.toThrow("LIFELINE_EMBEDDING_DIMENSIONS");
  });
});
