import { afterEach, beforeEach, expect, test, setDefaultTimeout } from "bun:test";
import { createCircuitBreaker, type CircuitBreaker } from "../../src/inference/circuit-breaker";
import { fallbackStrategy } from "../../src/inference/fallback-playbook";
import { retentionStrategySchema } from "../../src/inference/strategy-schema";
import { createStrategyWriter, type StrategyOutcome, type StrategyWriterOptions } from "../../src/inference/strategy-writer";
import { startFakeOpenAI, type FakeOpenAI } from "../support/fake-openai";
import { strategyContext, validStrategy } from "../support/strategy-fixtures";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

let fake: FakeOpenAI;
let outcomes: StrategyOutcome[];
let nowMs: number;
let breaker: CircuitBreaker;

beforeEach(() => {
  fake = startFakeOpenAI({ chatContent: JSON.stringify(validStrategy) });
  outcomes = [];
  nowMs = 1_000_000;
  breaker = createCircuitBreaker({ failureThreshold: 3, cooldownMs: 60_000, now: () => nowMs });
});
afterEach(() => fake.stop());

const writer = (overrides: Partial<StrategyWriterOptions> = {}) =>
  createStrategyWriter({
    baseURL: fake.url,
    apiKey: "test-key",
    model: "fake-chat",
    timeoutMs: 500,
    maxRetries: 1,
    backoffBaseMs: 10,
    breaker,
    onOutcome: (o) => outcomes.push(o),
    ...overrides,
  });

/** How fallback reasons name the LLM: model and endpoint. */
const llm = () => `LLM fake-chat at ${fake.url}`;
const chatRequests = () => fake.requests.filter((r) => r.route === "chat");
type ChatBody = { model: string; messages: { role: string; content: string }[]; response_format: { type: string; json_schema?: { name: string; strict: boolean } } };
const chatBody = (i: number) => chatRequests()[i]!.body as ChatBody;

test("a valid structured answer comes back as source llm, with the model and the prompt built from the context", async () => {
  const result = await writer().write(strategyContext());
  expect(result.source).toBe("llm");
  expect(result.model).toBe("fake-chat");
  expect(result.fallbackReason).toBeUndefined();
  expect(result.strategy).toEqual(validStrategy);
  expect(outcomes).toEqual(["ok"]);

  const body = chatBody(0);
  expect(chatRequests()[0]!.headers.authorization).toBe("Bearer test-key");
  expect(body.model).toBe("fake-chat");
  expect(body.response_format.type).toBe("json_schema");
  expect(body.response_format.json_schema?.strict).toBe(true);
  const user = body.messages.find((m) => m.role === "user")!.content;
  expect(user).toContain("Has had failed payments");
  expect(user).toContain("evt-pay-fail-1");
});

test("cited message ids the prompt never showed are dropped from an LLM answer", async () => {
  fake.script("chat", [{ kind: "ok", content: JSON.stringify({ ...validStrategy, citedMessageIds: ["evt-order-7", "evt-made-up"] }) }]);
  const result = await writer().write(strategyContext());
  expect(result.source).toBe("llm");
  expect(result.strategy.citedMessageIds).toEqual(["evt-order-7"]);
});

test("a 429 is retried after its Retry-After, then the answer comes from the llm", async () => {
  fake.script("chat", [{ kind: "rate-limit", retryAfter: "1" }, { kind: "ok" }]);
  const startedAt = performance.now();
  const result = await writer({ backoffBaseMs: 1 }).write(strategyContext()); // real sleep: the wait is measured
  const elapsedMs = performance.now() - startedAt;

  expect(result.source).toBe("llm");
  expect(outcomes).toEqual(["retry", "ok"]);
  expect(chatRequests()).toHaveLength(2);
  const gapMs = chatRequests()[1]!.receivedAt - chatRequests()[0]!.receivedAt;
  expect(gapMs).toBeGreaterThanOrEqual(990);
  expect(elapsedMs).toBeGreaterThanOrEqual(1_000);
  expect(elapsedMs).toBeLessThan(3_000);
});

test("5xx answers are retried with backoff up to maxRetries, then the fallback answers", async () => {
  const sleeps: number[] = [];
  fake.script("chat", [{ kind: "server-error", status: 502 }, { kind: "server-error" }, { kind: "server-error", status: 503 }]);
  const result = await writer({ maxRetries: 2, sleep: async (ms) => void sleeps.push(ms) }).write(strategyContext());
  expect(result.source).toBe("fallback");
  expect(result.fallbackReason).toBe(`${llm()}: HTTP 503: server error (after 3 attempts)`);
  expect(result.strategy).toEqual(fallbackStrategy(strategyContext()));
  expect(outcomes).toEqual(["retry", "retry", "error", "fallback"]);
  expect(chatRequests()).toHaveLength(3);
  expect(sleeps).toHaveLength(2);
  expect(sleeps[0]!).toBeGreaterThanOrEqual(5); // equal jitter: at least half of 10 ms
  expect(sleeps[1]!).toBeGreaterThanOrEqual(10); // and of 20 ms
});

test("an LLM that does not answer in time gives a timeout, then the fallback", async () => {
  fake.script("chat", [{ kind: "hang" }, { kind: "hang" }]);
  const startedAt = performance.now();
  const result = await writer({ timeoutMs: 200, sleep: async () => {} }).write(strategyContext());
  expect(result.source).toBe("fallback");
  expect(result.fallbackReason).toBe(`${llm()}: timed out after 200 ms (after 2 attempts)`);
  expect(outcomes).toEqual(["retry", "timeout", "fallback"]);
  expect(chatRequests()).toHaveLength(2);
  expect(performance.now() - startedAt).toBeLessThan(2_000);
  expect(retentionStrategySchema.safeParse(result.strategy).success).toBe(true);
});

test("an answer that is not JSON is retried; a schema-violating one after it ends in the fallback", async () => {
  fake.script("chat", [
    { kind: "ok", content: "Sure! Here is a plan: send them a coupon." },
    { kind: "ok", content: JSON.stringify({ ...validStrategy, actions: [{ action: "fax them", channel: "fax", offer: null, timing: "now" }] }) },
  ]);
  const result = await writer({ sleep: async () => {} }).write(strategyContext());
  expect(result.source).toBe("fallback");
  expect(result.fallbackReason).toStartWith(`${llm()}: answer broke the schema (actions.0.channel`);
  expect(result.fallbackReason).toEndWith("(after 2 attempts)");
  expect(outcomes).toEqual(["retry", "error", "fallback"]);
  expect(chatRequests()).toHaveLength(2);
});

const badAnswers = [
  { name: "not JSON", behaviour: { kind: "ok", content: "{ actions: [ oops" } },
  { name: "JSON of the wrong shape", behaviour: { kind: "ok", content: JSON.stringify({ strategies: [] }) } },
  { name: "an empty content", behaviour: { kind: "ok", content: "" } },
  { name: "a body that is not JSON", behaviour: { kind: "malformed", body: '{"choices": [' } },
  { name: "an answer cut off at the token limit", behaviour: { kind: "ok", content: JSON.stringify(validStrategy), finishReason: "length" } },
] as const;
for (const { name, behaviour } of badAnswers)
  test(`${name} is retried, and a good second answer is used`, async () => {
    fake.script("chat", [behaviour, { kind: "ok" }]);
    const result = await writer({ sleep: async () => {} }).write(strategyContext());
    expect(result.source).toBe("llm");
    expect(outcomes).toEqual(["retry", "ok"]);
    expect(chatRequests()).toHaveLength(2);
  });

test("JSON wrapped in a markdown fence (a server ignoring response_format) is accepted", async () => {
  fake.script("chat", [{ kind: "ok", content: "Here you go:\n```json\n" + JSON.stringify(validStrategy) + "\n```" }]);
  const result = await writer().write(strategyContext());
  expect(result.source).toBe("llm");
  expect(result.strategy).toEqual(validStrategy);
});

test("a server that rejects json_schema is asked again with json_object, and keeps being asked that way", async () => {
  fake.script("chat", [{ kind: "status", status: 400, message: "response_format type json_schema is not supported" }]);
  const w = writer({ sleep: async () => {} });
  expect((await w.write(strategyContext())).source).toBe("llm");
  expect((await w.write(strategyContext())).source).toBe("llm");
  expect(chatRequests().map((_, i) => chatBody(i).response_format.type)).toEqual(["json_schema", "json_object", "json_object"]);
});

test("a 401 is not retried: the fallback answers after one request", async () => {
  fake.script("chat", [{ kind: "status", status: 401, message: "bad key" }]);
  const result = await writer().write(strategyContext());
  expect(result.source).toBe("fallback");
  expect(result.fallbackReason).toBe(`${llm()}: HTTP 401: bad key (after 1 attempt)`);
  expect(chatRequests()).toHaveLength(1);
});

test("a Retry-After longer than maxDelayMs ends the retries", async () => {
  fake.script("chat", [{ kind: "rate-limit", retryAfter: "120" }]);
  const result = await writer({ maxDelayMs: 5_000 }).write(strategyContext());
  expect(result.source).toBe("fallback");
  expect(chatRequests()).toHaveLength(1);
  expect(outcomes).toEqual(["error", "fallback"]);
});

test("without an API key or base URL the fallback answers at once and nothing is sent", async () => {
  const result = await writer({ baseURL: undefined, apiKey: undefined }).write(strategyContext());
  expect(result).toEqual({ strategy: fallbackStrategy(strategyContext()), source: "fallback", fallbackReason: "llm not configured" });
  expect(outcomes).toEqual(["fallback"]);
  expect(fake.requests).toHaveLength(0);
});

test("after N failed calls the breaker opens: answers come from the fallback without a request; after the cooldown one trial recovers it", async () => {
  const w = writer({ maxRetries: 0 });
  fake.script("chat", [{ kind: "server-error" }, { kind: "server-error" }, { kind: "server-error" }]);
  for (let i = 0; i < 3; i++) expect((await w.write(strategyContext())).fallbackReason).toStartWith(`${llm()}: HTTP 500: server error (after 1 attempt`);
  expect(breaker.state()).toBe("open");
  expect(chatRequests()).toHaveLength(3);

  outcomes = [];
  const startedAt = performance.now();
  const shortCircuited = await w.write(strategyContext());
  expect(performance.now() - startedAt).toBeLessThan(50);
  expect(shortCircuited).toMatchObject({ source: "fallback", fallbackReason: "circuit open" });
  expect(outcomes).toEqual(["breaker_open", "fallback"]);
  expect(chatRequests()).toHaveLength(3); // nothing reached the server

  nowMs += 59_999;
  expect((await w.write(strategyContext())).fallbackReason).toBe("circuit open");
  expect(chatRequests()).toHaveLength(3);

  nowMs += 1;
  expect(breaker.state()).toBe("half_open");
  const trial = await w.write(strategyContext());
  expect(trial.source).toBe("llm");
  expect(chatRequests()).toHaveLength(4);
  expect(breaker.state()).toBe("closed");
  expect((await w.write(strategyContext())).source).toBe("llm");
  expect(chatRequests()).toHaveLength(5);
});

test("a failed half-open trial opens the breaker for another cooldown", async () => {
  const w = writer({ maxRetries: 0 });
  fake.script("chat", Array.from({ length: 4 }, () => ({ kind: "server-error" as const })));
  for (let i = 0; i < 3; i++) await w.write(strategyContext());
  nowMs += 60_000;
  expect((await w.write(strategyContext())).fallbackReason).toBe(`${llm()}: HTTP 500: server error (after 1 attempt)`);
  expect(chatRequests()).toHaveLength(4);
  expect(breaker.state()).toBe("open");
  expect((await w.write(strategyContext())).fallbackReason).toBe("circuit open");
  expect(chatRequests()).toHaveLength(4);
});

test("timeouts count as failures for the breaker", async () => {
  fake.script("chat", [{ kind: "hang" }, { kind: "hang" }, { kind: "hang" }]);
  const w = writer({ maxRetries: 0, timeoutMs: 100 });
  for (let i = 0; i < 3; i++) expect((await w.write(strategyContext())).source).toBe("fallback");
  expect(breaker.state()).toBe("open");
});

test("each failed attempt counts for the breaker at once: an answer still retrying stops when the circuit opens", async () => {
  fake.script("chat", Array.from({ length: 6 }, () => ({ kind: "server-error" as const })));
  const result = await writer({ maxRetries: 5, sleep: async () => {} }).write(strategyContext());
  expect(result.fallbackReason).toBe(`${llm()}: HTTP 500: server error (after 3 attempts; the circuit opened)`);
  expect(chatRequests()).toHaveLength(3);
  expect(breaker.state()).toBe("open");
});

test("concurrent answers against a hanging LLM: their timeouts open the circuit as they happen, none waits for a retry", async () => {
  fake.script("chat", Array.from({ length: 18 }, () => ({ kind: "hang" as const })));
  const w = writer({ maxRetries: 2, timeoutMs: 300, backoffBaseMs: 400 });
  const startedAt = performance.now();
  const results = await Promise.all(Array.from({ length: 6 }, () => w.write(strategyContext())));
  const elapsedMs = performance.now() - startedAt;
  expect(results.every((r) => r.source === "fallback")).toBe(true);
  expect(chatRequests()).toHaveLength(6);
  expect(breaker.state()).toBe("open");
  // One timeout each (300 ms); retried the old way it took 3 timeouts and 2 backoffs.
  expect(elapsedMs).toBeLessThan(900);
});

test("all attempts and waits of one answer fit in budgetMs, whatever the per-attempt timeout", async () => {
  fake.script("chat", Array.from({ length: 3 }, () => ({ kind: "hang" as const })));
  breaker = createCircuitBreaker({ failureThreshold: 100, cooldownMs: 60_000, now: () => nowMs });
  const startedAt = performance.now();
  const result = await writer({ maxRetries: 2, timeoutMs: 20_000, budgetMs: 1_000, backoffBaseMs: 50 }).write(strategyContext());
  const elapsedMs = performance.now() - startedAt;
  expect(result.source).toBe("fallback");
  expect(result.fallbackReason).toMatch(/^LLM fake-chat at .*: timed out after (1000|99\d) ms \(after 1 attempt; the 1000 ms budget is spent\)$/);
  expect(elapsedMs).toBeGreaterThanOrEqual(950);
  expect(elapsedMs).toBeLessThan(1_500);
});
