import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startApi } from "../../src/api/server";
import type { Config } from "../../src/config";
import { scoreThroughApi } from "../../src/eval/system-run";
import { createLogger } from "../../src/log/logger";
import { startWorkers, type WorkerRuntime } from "../../queues/worker-runtime";
import { ingestHarness } from "../support/ingest-harness";
import { startRedis, type TestRedis } from "../support/redis-server";
import { TEST_KEYS, testConfig } from "../support/test-config";
import { waitFor } from "../support/wait-for";

const DAY = 86_400_000;
let redis: TestRedis;

/** API in-process and workers, with automatic refits off unless asked: every refit in these tests is one we can see. */
async function system(env: Record<string, string> = {}) {
  const config: Config = testConfig(redis.url, {
    LIFELINE_RESCORE_DEBOUNCE_MS: "200",
    LIFELINE_CHURN_HORIZON_DAYS: "60",
    LIFELINE_REFIT_AUTO: "false",
    // A first score fits the models in-line; on a loaded CI machine that can outlast the default wait.
    LIFELINE_SIGNAL_WAIT_MS: "60000",
    ...env,
  });
  const h = await ingestHarness(config);
  const workers: WorkerRuntime = await startWorkers(config, createLogger(config));
  const call = async (method: string, path: string, body?: unknown, key: string = TEST_KEYS.read) => {
    const res = await h.app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    return { status: res.status, body: (await res.json()) as any };
  };
  const send = async (events: object[]) => expect((await h.post("/v1/batch", { batch: events })).status).toBe(200);
  const score = async (customerId: string, extra: object = {}) => {
    const res = await call("POST", "/signals/churn?wait=true", { customerId, ...extra });
    expect(res.status).toBe(200);
    return res.body.results[0].insight;
  };
  const refits = async () => (await workers.queues.inference.getJobs(["completed", "active", "waiting", "delayed"])).filter((j) => j.name === "refit").length;
  return { config, h, workers, call, send, score, refits, close: async () => (await workers.stop(), h.close()) };
}

const at = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY).toISOString();
const order = (userId: string, messageId: string, daysAgo: number, products: { id: string; name: string }[] = [], revenue = 30) => ({
  type: "track",
  userId,
  event: "Order Completed",
  messageId,
  timestamp: at(daysAgo),
  properties: { revenue, products: products.map((p) => ({ product_id: p.id, name: p.name, price: revenue / Math.max(1, products.length), quantity: 1 })) },
});

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

describe("explicit signals on a fresh system", () => {
  let s: Awaited<ReturnType<typeof system>>;
  beforeAll(async () => {
    s = await system();
  });
  afterAll(async () => s.close());

  test("a customer who bought once, complained and cancelled is high risk with both cited, and a re-subscription lowers it", async () => {
    const cancelledAt = at(2);
    await s.send([
      order("ada", "a-1", 11),
      { type: "track", userId: "ada", event: "Complaint Submitted", messageId: "a-2", timestamp: at(6), properties: { text: "my parcel arrived two weeks late and the box was damaged" } },
      { type: "track", userId: "ada", event: "Subscription Cancelled", messageId: "a-3", timestamp: cancelledAt, properties: { reason: "too expensive" } },
    ]);
    await waitFor(async () => (await s.workers.profiles.get("ada"))?.churnSignals.length === 2, 30_000, "ada's signals");
    const insight = await s.score("ada");
    expect(insight.churn.riskTier).toBe("high");
    const byFeature = new Map(insight.churn.drivers.map((d: any) => [d.feature, d]));
    expect((byFeature.get("cancellations") as any).evidence.map((e: any) => e.messageId)).toContain("a-3");
    expect((byFeature.get("complaints") as any).evidence.map((e: any) => e.messageId)).toContain("a-2");
    expect((byFeature.get("cancellations") as any).reason).toContain("reason: too expensive");
    // The fallback plan acts on them and cites them.
    expect(insight.strategy.citedMessageIds).toEqual(expect.arrayContaining(["a-3"]));
    expect(insight.strategy.objective).not.toBe("Re-engage the customer and learn what changed");
    expect(insight.dataThrough).toBe(cancelledAt);

    await s.send([{ type: "track", userId: "ada", event: "Subscription Started", messageId: "a-4", timestamp: at(1) }]);
    await waitFor(async () => (await s.workers.profiles.get("ada"))?.recoveries?.length === 1, 30_000, "ada's re-subscription");
    const after = await s.score("ada");
    expect(after.churn.probability).toBeLessThan(insight.churn.probability);
    expect(after.churn.drivers.find((d: any) => d.feature === "cancellations").reason).toContain("taken back since by Subscription Started");
  });
});

describe("recommendations between refits", () => {
  let s: Awaited<ReturnType<typeof system>>;
  beforeAll(async () => {
    s = await system();
  });
  afterAll(async () => s.close());

  test("appear within seconds of the first co-purchases, and items bought after the refit reach them without another", async () => {
    const kettle = { id: "kettle", name: "Kettle" };
    const mug = { id: "mug", name: "Mug" };
    await s.send([order("b1", "b1-1", 5, [kettle, mug]), order("b2", "b2-1", 4, [kettle, mug]), order("b3", "b3-1", 3, [kettle])]);
    await waitFor(async () => (await s.workers.profiles.get("b3")) !== undefined, 30_000, "buyers");
    const first = await s.score("b3");
    expect(first.recommendations.map((r: any) => r.itemId)).toContain("mug");
    for (const r of first.recommendations) expect(r.support).toBeGreaterThan(0);
    const refitsAfterFirst = await s.refits();

    const teapot = { id: "teapot", name: "Teapot" };
    const tea = { id: "tea", name: "Loose tea" };
    await s.send([order("b4", "b4-1", 2, [teapot, tea]), order("b5", "b5-1", 2, [teapot, tea]), order("b3", "b3-2", 1, [teapot])]);
    await waitFor(async () => (await s.workers.profiles.get("b3"))?.orders === 2, 30_000, "b3's second order");
    await waitFor(async () => (await s.workers.profiles.get("b5")) !== undefined, 30_000, "tea buyers");
    const second = await s.score("b3");
    const tip = second.recommendations.find((r: any) => r.itemId === "tea");
    expect(tip).toMatchObject({ source: "live", reason: "bought with Teapot by 2 customers", support: 2 });
    expect(await s.refits()).toBe(refitsAfterFirst);
  });
});

describe("as of a past moment", () => {
  let s: Awaited<ReturnType<typeof system>>;
  const T = Date.parse("2017-10-02T00:00:00Z");
  const iso = (days: number) => new Date(T + days * DAY).toISOString();
  beforeAll(async () => {
    s = await system();
    const events: object[] = [];
    for (let c = 0; c < 40; c++)
      for (let k = 0; k < 4 + (c % 5); k++)
        events.push({ type: "track", userId: `h${c}`, event: "Order Completed", messageId: `h${c}-${k}`, timestamp: iso(-300 + k * (20 + (c % 7) * 9)), properties: { revenue: 20 + c } });
    events.push({ type: "track", userId: "h0", event: "Order Completed", messageId: "h0-late", timestamp: iso(40), properties: { revenue: 99 } });
    await s.send(events);
    await waitFor(async () => (await s.workers.profiles.get("h0"))?.purchases.some((p) => p.messageId === "h0-late"), 30_000, "history");
    await waitFor(async () => (await s.workers.profiles.get("h39")) !== undefined, 30_000, "history");
  });
  afterAll(async () => s.close());

  test("uses only events before asOf, echoes asOf and dataThrough, and is not stored as the latest insight", async () => {
    const asOf = "2017-10-02";
    const past = await s.score("h0", { asOf });
    expect(past.asOf).toBe("2017-10-02T00:00:00.000Z");
    expect(Date.parse(past.dataThrough)).toBeLessThan(T);
    const now = await s.score("h0");
    expect(now.asOf).toBeUndefined();
    expect(now.dataThrough).toBe(iso(40));
    // A later event does not change the past answer.
    await s.send([{ type: "track", userId: "h0", event: "Order Completed", messageId: "h0-later", timestamp: iso(60), properties: { revenue: 5 } }]);
    await waitFor(async () => (await s.workers.profiles.get("h0"))?.purchases.some((p) => p.messageId === "h0-later"), 30_000, "later event");
    const again = await s.score("h0", { asOf });
    expect(again.churn.probability).toBe(past.churn.probability);
    expect(again.churn.drivers).toEqual(past.churn.drivers);
    expect((await s.call("GET", "/clients/h0")).body.insight.asOf).toBeUndefined();
  });

  test("gives the same answers through the eval's scoring as through single requests", async () => {
    const api = await startApi(s.config, createLogger(s.config));
    try {
      const ids = ["h1", "h2", "h3"];
      const viaEval = await scoreThroughApi({ baseUrl: `http://127.0.0.1:${api.port}`, readKey: TEST_KEYS.read, ids: [...ids, "nobody"], asOfMs: T, bulk: 2 });
      expect(viaEval.missing).toEqual(["nobody"]);
      for (const id of ids) {
        const single = await s.score(id, { asOf: "2017-10-02T00:00:00Z" });
        const evaluated = viaEval.insights.get(id)!;
        expect(evaluated.churn.probability).toBe(single.churn.probability);
        expect(evaluated.churn.drivers).toEqual(single.churn.drivers);
        expect(evaluated.recommendations).toEqual(single.recommendations);
      }
    } finally {
      await api.stop();
    }
  });

  test("refuses an asOf that is not a date or lies in the future, naming the field", async () => {
    const bad = await s.call("POST", "/signals/churn", { customerId: "h0", asOf: "yesterday" });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("asOf");
    expect((await s.call("POST", "/signals/churn", { customerId: "h0", asOf: "2999-01-01" })).status).toBe(400);
  });
});

describe("refit on demand and when the data grows", () => {
  let s: Awaited<ReturnType<typeof system>>;
  beforeAll(async () => {
    s = await system({ LIFELINE_REFIT_AUTO: "true", LIFELINE_REFIT_CHECK_MS: "300", LIFELINE_REFIT_MIN_INTERVAL_MS: "1000" });
  });
  afterAll(async () => s.close());

  test("the first events get a model without anyone asking; GET /admin/models says on what it was fitted", async () => {
    await s.send([order("m1", "m1-1", 30), order("m1", "m1-2", 10), order("m2", "m2-1", 20)]);
    const models = await waitFor(async () => {
      const r = await s.call("GET", "/admin/models", undefined, TEST_KEYS.admin);
      return r.body.churn ? r.body : undefined;
    }, 30_000, "automatic first fit");
    expect(models.churn).toMatchObject({ mode: "bgnbd", learned: false });
    expect(models.churn.stats.purchases).toBeGreaterThan(0);
    expect(typeof models.churn.fittedAt).toBe("string");
    expect(models.recommender.items).toBeGreaterThanOrEqual(0);
    expect((await s.call("GET", "/admin/models")).status).toBe(403);
  });

  test("POST /admin/refit answers 202 with a job that reports progress and ends with the new model", async () => {
    const before = (await s.call("GET", "/admin/models", undefined, TEST_KEYS.admin)).body.churn.fittedAt;
    const posted = await s.call("POST", "/admin/refit", {}, TEST_KEYS.admin);
    expect(posted.status).toBe(202);
    const done = await waitFor(async () => {
      const r = await s.call("GET", `/admin/refit/${posted.body.jobId}`, undefined, TEST_KEYS.admin);
      return r.body.state === "completed" ? r.body : undefined;
    }, 30_000, "requested refit");
    expect(done.result.reason).toBe("requested by an admin");
    expect(done.progress.stage).toBe("saving");
    const after = (await s.call("GET", "/admin/models", undefined, TEST_KEYS.admin)).body;
    expect(after.churn.fittedAt > before).toBe(true);
    expect((await s.call("POST", "/admin/refit", {}, TEST_KEYS.read)).status).toBe(403);
    expect((await s.call("GET", "/admin/refit/nope", undefined, TEST_KEYS.admin)).status).toBe(404);
  });

  test("purchases growing by a fifth refit again on their own", async () => {
    const before = (await s.call("GET", "/admin/models", undefined, TEST_KEYS.admin)).body.churn;
    await s.send(Array.from({ length: 12 }, (_, i) => order(`g${i}`, `g${i}-1`, 5 + i)));
    const after = await waitFor(async () => {
      const m = (await s.call("GET", "/admin/models", undefined, TEST_KEYS.admin)).body.churn;
      return m.fittedAt !== before.fittedAt && m.stats.purchases >= before.stats.purchases + 12 ? m : undefined;
    }, 30_000, "refit after growth");
    expect(after.customers).toBeGreaterThan(before.customers);
  });
});

describe("API docs", () => {
  test("document the scoring body (asOf) and the insight: interval, drivers as facts, recommendations with evidence, refit routes", async () => {
    const s = await system();
    try {
      const res = await s.h.app.handle(new Request("http://localhost/docs/json"));
      const spec = (await res.json()) as any;
      const post = spec.paths["/signals/churn"].post;
      expect(JSON.stringify(post.requestBody.content["application/json"].schema)).toContain("asOf");
      const insight = post.responses["200"].content["application/json"].schema.properties.results.items.properties.insight;
      const churn = insight.properties.churn.properties;
      expect(Object.keys(churn)).toEqual(expect.arrayContaining(["probability", "interval", "drivers", "protective", "explanation", "mode"]));
      expect(Object.keys(churn.drivers.items.properties)).toEqual(expect.arrayContaining(["feature", "value", "reference", "contribution", "reason", "evidence"]));
      expect(Object.keys(insight.properties.recommendations.items.properties)).toEqual(expect.arrayContaining(["reason", "support"]));
      for (const path of ["/admin/refit", "/admin/refit/{jobId}", "/admin/models"]) expect(Object.keys(spec.paths)).toContain(path);
    } finally {
      await s.close();
    }
  });
});
