import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import type { Config } from "../../src/config";
import { createLogger } from "../../src/log/logger";
import { startWorkers, type WorkerRuntime } from "../../queues/worker-runtime";
import { startFakeOpenAI } from "../support/fake-openai";
import { predictionsSchema } from "../../pipelines/customer-predictions";
import { validStrategy } from "../support/strategy-fixtures";
import { ingestHarness } from "../support/ingest-harness";
import { startRedis, type TestRedis } from "../support/redis-server";
import { TEST_KEYS, testConfig } from "../support/test-config";
import { waitFor } from "../support/wait-for";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

const DAY = 86_400_000;
let redis: TestRedis;

async function system(env: Record<string, string> = {}) {
  const config: Config = testConfig(redis.url, { LIFELINE_RESCORE_DEBOUNCE_MS: "200", LIFELINE_CHURN_HORIZON_DAYS: "60", ...env });
  const h = await ingestHarness(config);
  const workers: WorkerRuntime = await startWorkers(config, createLogger(config));
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await h.app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: { authorization: `Bearer ${TEST_KEYS.read}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    return { status: res.status, body: (await res.json()) as any };
  };
  return { config, h, workers, call, close: async () => (await workers.stop(), h.close()) };
}

/** A population: regular buyers who keep buying, lapsed ones, and some who cancelled and left. */
function population(now: number) {
  const events: object[] = [];
  for (let c = 0; c < 80; c++) {
    const lapsed = c % 3 === 0;
    if (lapsed && c % 2 === 0)
      events.push({ type: "track", userId: `pop-${c}`, event: "Subscription Cancelled", messageId: `pop-${c}-cancel`, timestamp: new Date(now - (130 + (c % 5) * 20) * DAY).toISOString() });
    const every = 10 + (c % 7) * 3;
    const last = lapsed ? now - (120 + (c % 5) * 20) * DAY : now - (c % every) * DAY;
    for (let t = now - 360 * DAY, i = 0; t <= last; t += every * DAY, i++)
      events.push({
        type: "track",
        userId: `pop-${c}`,
        event: "Order Completed",
        messageId: `pop-${c}-${i}`,
        timestamp: new Date(t).toISOString(),
        properties: { revenue: 20 + (c % 4) * 5, products: [{ product_id: `sku-${(c + i) % 12}`, name: `Item ${(c + i) % 12}`, price: 10, quantity: 2 }] },
      });
  }
  return events;
}

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

describe("churn signals", () => {
  let s: Awaited<ReturnType<typeof system>>;
  const now = Date.now();
  const at = (daysAgo: number) => new Date(now - daysAgo * DAY).toISOString();
  const risky = {
    userId: "risky-1",
    events: [
      { type: "track", userId: "risky-1", event: "Order Completed", messageId: "r-o1", timestamp: at(200), properties: { revenue: 40, products: [{ product_id: "sku-1", name: "Item 1", price: 20, quantity: 2 }] } },
      { type: "track", userId: "risky-1", event: "Order Completed", messageId: "r-o2", timestamp: at(150), properties: { revenue: 35 } },
      { type: "track", userId: "risky-1", event: "Payment Failed", messageId: "r-pf", timestamp: at(100) },
      { type: "track", userId: "risky-1", event: "Subscription Cancelled", messageId: "r-sc", timestamp: at(90), properties: { reason: "too expensive" } },
    ],
  };

  beforeAll(async () => {
    s = await system();
    const all = [...population(now), ...risky.events];
    for (let i = 0; i < all.length; i += 500) expect((await s.h.post("/v1/batch", { batch: all.slice(i, i + 500) })).status).toBe(200);
    await waitFor(async () => (await s.workers.profiles.get("risky-1"))?.eventCounts["Subscription Cancelled"] === 1, 30_000, "risky customer profile");
    await waitFor(async () => (await s.workers.profiles.get("pop-79")) !== undefined, 30_000, "population profiles");
    // Fit on the whole population now, rather than on whatever had arrived at the first score.
    await s.workers.refit();
  });
  afterAll(async () => s.close());

  test("POST /signals/churn?wait=true returns a probability with drivers citing the customer's own events", async () => {
    const res = await s.call("POST", "/signals/churn?wait=true", { customerId: "risky-1" });
    expect(res.status).toBe(200);
    const insight = res.body.results[0].insight;
    const churn = insight.churn;
    expect(churn.probability).toBeGreaterThanOrEqual(0);
    expect(churn.probability).toBeLessThanOrEqual(1);
    expect(churn.riskTier).toBe(churn.probability < 0.5 ? "low" : churn.probability < 0.75 ? "medium" : "high");
    expect(churn.drivers.length).toBeGreaterThan(0);
    const own = new Set(risky.events.map((e) => e.messageId));
    const cited = churn.drivers.flatMap((d: any) => d.evidence.map((e: any) => e.messageId));
    expect(cited.length).toBeGreaterThan(0);
    for (const id of cited) expect(own.has(id)).toBe(true);
    expect(insight.source).toBe("fallback");
    expect(insight.strategy.actions.length).toBeGreaterThan(0);
    expect(insight.modelVersion).toBe(churn.modelVersion);
    expect(Array.isArray(insight.recommendations)).toBe(true);
  });

  test("a lapsed customer scores riskier than a regular buyer", async () => {
    const res = await s.call("POST", "/signals/churn?wait=true", { customerIds: ["pop-0", "pop-1"] });
    expect(res.status).toBe(200);
    const [lapsed, regular] = res.body.results.map((r: any) => r.insight.churn.probability);
    expect(lapsed).toBeGreaterThan(regular);
  });

  test("GET /clients/:id shows the latest insight; the job can be read back", async () => {
    const posted = await s.call("POST", "/signals/churn", { customerId: "risky-1" });
    expect(posted.status).toBe(202);
    const jobId = posted.body.jobs[0].jobId;
    const done = await waitFor(async () => {
      const r = await s.call("GET", `/signals/churn/${jobId}`);
      return r.body.state === "completed" ? r.body : undefined;
    }, 30_000, "scoring job");
    const client = await s.call("GET", "/clients/risky-1");
    expect(client.body.insight.computedAt).toBe(done.insight.computedAt);
    expect(client.body.insight.churn.drivers.length).toBeGreaterThan(0);
  });

  test("new events mark the insight stale and a debounced re-score refreshes it", async () => {
    const before = (await s.call("GET", "/clients/risky-1")).body.insight.computedAt;
    await s.h.post("/v1/track", { userId: "risky-1", event: "Order Completed", messageId: "r-o3", properties: { revenue: 50 } });
    await waitFor(async () => {
      const c = (await s.call("GET", "/clients/risky-1")).body;
      return c.insight.computedAt !== before && c.insightStale === false;
    }, 30_000, "re-score");
  });

  test("unknown customers are 404; bulk requests over the limit are refused; bad bodies are 400", async () => {
    expect((await s.call("POST", "/signals/churn", { customerId: "nobody" })).status).toBe(404);
    expect((await s.call("POST", "/signals/churn", { customerIds: Array.from({ length: 1001 }, (_, i) => `c${i}`) })).status).toBe(413);
    expect((await s.call("POST", "/signals/churn", { wrong: 1 })).status).toBe(400);
    expect((await s.call("GET", "/signals/churn/does-not-exist")).status).toBe(404);
  });
});

describe("retention strategy from an LLM", () => {
  test("with an OpenAI-compatible endpoint configured the strategy comes from the LLM", async () => {
    const llm = startFakeOpenAI({ chatContent: JSON.stringify(validStrategy) });
    const s = await system({ OPENAI_BASE_URL: llm.url, OPENAI_API_KEY: "sk-test" });
    try {
      await s.h.post("/v1/batch", {
        batch: [
          { type: "track", userId: "llm-1", event: "Order Completed", messageId: "l-1", timestamp: new Date(Date.now() - 40 * DAY).toISOString(), properties: { revenue: 10 } },
          { type: "track", userId: "llm-1", event: "Complaint Filed", messageId: "l-2", timestamp: new Date(Date.now() - 5 * DAY).toISOString() },
        ],
      });
      await waitFor(async () => (await s.workers.profiles.get("llm-1"))?.eventCounts["Complaint Filed"] === 1, 30_000, "profile");
      const res = await s.call("POST", "/signals/churn?wait=true", { customerId: "llm-1" });
      expect(res.status).toBe(200);
      expect(res.body.results[0].insight.fallbackReason).toBeUndefined();
      expect(res.body.results[0].insight.source).toBe("llm");
      expect(res.body.results[0].insight.strategy.objective).toBe(validStrategy.objective);
      expect(llm.requests.some((r) => r.route === "chat")).toBe(true);
    } finally {
      await s.close();
      await llm.stop();
    }
  });
});

describe("behavioural predictions", () => {
  let s: Awaited<ReturnType<typeof system>>;
  const now = Date.now();
  const numbersIn = (v: unknown): number[] =>
    typeof v === "number" ? [v] : v && typeof v === "object" ? Object.values(v).flatMap(numbersIn) : [];

  beforeAll(async () => {
    s = await system();
    const fresh = [
      { type: "identify", userId: "fresh-0", messageId: "f0-id", traits: { plan: "free" }, timestamp: new Date(now - 3 * DAY).toISOString() },
      { type: "track", userId: "fresh-1", event: "Order Completed", messageId: "f1-o1", timestamp: new Date(now - 2 * DAY).toISOString(), properties: { revenue: 30, currency: "EUR" } },
    ];
    const all = [...population(now), ...fresh];
    for (let i = 0; i < all.length; i += 500) expect((await s.h.post("/v1/batch", { batch: all.slice(i, i + 500) })).status).toBe(200);
    await waitFor(async () => (await s.workers.profiles.get("pop-79")) !== undefined && (await s.workers.profiles.get("fresh-1")) !== undefined, 30_000, "profiles");
    await s.workers.refit();
  });
  afterAll(async () => s.close());

  test("a fresh customer's insight carries every prediction, population-level, with no blank or NaN", async () => {
    const res = await s.call("POST", "/signals/churn?wait=true", { customerIds: ["fresh-0", "fresh-1"] });
    expect(res.status).toBe(200);
    for (const result of res.body.results) {
      const p = predictionsSchema.parse(result.insight.predictions);
      expect(p.basis).toBe("population");
      expect(p.horizonDays).toBe(60);
      expect(numbersIn(p).every(Number.isFinite)).toBe(true);
      expect(p.expectedPurchases.interval.low).toBeLessThanOrEqual(p.expectedPurchases.interval.high);
      expect(p.value.interval.low).toBeLessThanOrEqual(p.value.interval.high);
      for (const day of [p.nextPurchase.likelyBy, p.nextPurchase.interval.from, p.nextPurchase.interval.to]) expect(Number.isNaN(Date.parse(day))).toBe(false);
      expect(result.insight.strategy.rationale).toContain("Sized by predicted value");
    }
    const oneOrder = predictionsSchema.parse(res.body.results[1].insight.predictions);
    expect(oneOrder.value.currency).toBe("EUR");
    // One 30 EUR order: the Gamma-Gamma estimate sits between the population's order value (20–35) and the customer's own.
    expect(oneOrder.value.expectedOrderValue).toBeGreaterThan(15);
    expect(oneOrder.value.expectedOrderValue).toBeLessThan(40);
  });

  test("a regular buyer's predictions come from their own orders and their rhythm", async () => {
    // pop-1 orders every 13 days and last ordered a day ago; pop-0 stopped 120 days ago.
    const res = await s.call("POST", "/signals/churn?wait=true", { customerIds: ["pop-1", "pop-0"] });
    const [regular, lapsed] = res.body.results.map((r: any) => predictionsSchema.parse(r.insight.predictions));
    expect(regular.basis).toBe("customer");
    expect(regular.nextPurchase.overdue).toBe(false);
    expect(regular.nextPurchase.typicalGapDays).toBeGreaterThan(9);
    expect(regular.nextPurchase.typicalGapDays).toBeLessThan(17);
    expect(regular.expectedPurchases.value).toBeGreaterThan(2);
    expect(regular.expectedPurchases.value).toBeGreaterThanOrEqual(regular.expectedPurchases.interval.low);
    expect(regular.expectedPurchases.value).toBeLessThanOrEqual(regular.expectedPurchases.interval.high);
    expect(lapsed.nextPurchase.overdue).toBe(true);
    expect(lapsed.value.amount).toBeLessThan(regular.value.amount);
    expect(lapsed.value.percentile).toBeLessThan(regular.value.percentile);
  });
});
