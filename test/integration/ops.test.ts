import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { spawnSync } from "node:child_process";
import { recordDeadLetter } from "../../queues/dead-letter";
import { createPipelineMetrics } from "../../src/metrics/pipeline-metrics";
import { ingestHarness } from "../support/ingest-harness";
import { parsePrometheusText, sampleValue } from "../support/prometheus-text";
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

const uid = () => crypto.randomUUID().slice(0, 8);
const call = async (method: string, path: string, key?: string | null, init: RequestInit = {}) => {
  const headers = new Headers(init.headers);
  if (key) headers.set("authorization", `Bearer ${key}`);
  const res = await h.app.handle(new Request(`http://lifeline.test${path}`, { method, ...init, headers }));
  return { status: res.status, headers: res.headers, text: await res.text() };
};
const scrape = async () => parsePrometheusText((await call("GET", "/metrics")).text).samples;

describe("/metrics", () => {
  test("counters move by exactly the events posted, and the output parses as Prometheus text", async () => {
    const before = await scrape();
    const userId = `u-${uid()}`;
    const dup = `m-${uid()}`;
    await h.post("/events", [
      { type: "track", userId, event: "A", messageId: dup },
      { type: "track", userId, event: "B" },
      { type: "nonsense", userId },
    ]);
    await h.post("/events", { type: "track", userId, event: "A", messageId: dup });
    const after = await scrape();
    const delta = (name: string, labels?: Record<string, string>) => sampleValue(after, name, labels) - sampleValue(before, name, labels);
    expect(delta("lifeline_events_accepted_total")).toBe(2);
    expect(delta("lifeline_events_duplicate_total")).toBe(1);
    expect(delta("lifeline_events_rejected_total", { reason: "invalid" })).toBe(1);
    expect(delta("lifeline_http_requests_total", { route: "/events", code: "200" })).toBe(2);
    expect(delta("lifeline_http_request_duration_seconds_count", { route: "/events" })).toBe(2);
    // scrape-time numbers from Redis: every partition, every queue
    expect(after.filter((s) => s.name === "lifeline_stream_length")).toHaveLength(h.deps.keys.partitions);
    expect(sampleValue(after, "lifeline_stream_length")).toBeGreaterThanOrEqual(1);
    for (const queue of ["clean", "embed", "inference", "dead-letter"]) expect(after.some((s) => s.name === "lifeline_queue_jobs" && s.labels.queue === queue)).toBe(true);
    // no customer id in any label
    expect(after.some((s) => Object.values(s.labels).includes(userId))).toBe(false);
  });

  test("routes are labelled by template, not raw path", async () => {
    await call("GET", `/clients/${uid()}`, TEST_KEYS.read);
    const samples = await scrape();
    expect(samples.some((s) => s.labels.route === "/clients/:id")).toBe(true);
    expect(samples.some((s) => s.labels.route?.startsWith("/clients/") && s.labels.route !== "/clients/:id" && !s.labels.route.includes(":"))).toBe(false);
  });

  test("stage durations and upstream outcomes recorded by a worker process show up in the API's /metrics", async () => {
    const worker = createPipelineMetrics(h.deps.redis, h.deps.keys.prefix, { flushIntervalMs: 60_000 });
    worker.observeStage("embed", 0.2);
    worker.observeStage("embed", 3);
    worker.countCall("llm", "fallback");
    await worker.stop();
    const samples = await scrape();
    expect(sampleValue(samples, "lifeline_stage_duration_seconds_count", { stage: "embed" })).toBe(2);
    expect(sampleValue(samples, "lifeline_stage_duration_seconds_bucket", { stage: "embed", le: "0.25" })).toBe(1);
    expect(sampleValue(samples, "lifeline_stage_duration_seconds_bucket", { stage: "embed", le: "+Inf" })).toBe(2);
    expect(sampleValue(samples, "lifeline_stage_duration_seconds_sum", { stage: "embed" })).toBeCloseTo(3.2, 6);
    expect(sampleValue(samples, "lifeline_upstream_calls_total", { call: "llm", outcome: "fallback" })).toBe(1);
  });

  test("a dead letter is counted", async () => {
    const before = sampleValue(await scrape(), "lifeline_dead_letters");
    await recordDeadLetter(h.deps.queues["dead-letter"], "clean", { id: `j-${uid()}`, name: "event", data: {}, attemptsMade: 5 } as never, new Error("boom"), h.deps.suppression);
    expect(sampleValue(await scrape(), "lifeline_dead_letters")).toBe(before + 1);
  });
});

describe("request ids and logs", () => {
  test("an incoming X-Request-Id is echoed; one is made up otherwise", async () => {
    expect((await call("GET", "/health", null, { headers: { "x-request-id": "abc-123" } })).headers.get("x-request-id")).toBe("abc-123");
    expect((await call("GET", "/health")).headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expect((await call("GET", "/clients/x")).headers.get("x-request-id")).toBeTruthy(); // also on errors
  });
});

describe("roles", () => {
  // Every route in src/api, with the role it needs. Ops routes need none.
  const routes = [
    { method: "POST", path: "/events", role: "write", body: { type: "track", userId: "r", event: "E" } },
    { method: "POST", path: "/v1/track", role: "write", body: { userId: "r", event: "E" } },
    { method: "POST", path: "/v1/batch", role: "write", body: { batch: [{ type: "track", userId: "r", event: "E" }] } },
    { method: "GET", path: "/clients/r", role: "read" },
    { method: "GET", path: "/clients/r/memory?q=x", role: "read" },
    { method: "GET", path: "/clients/r/similar", role: "read" },
    { method: "GET", path: "/memory/search?q=x", role: "read" },
    { method: "POST", path: "/signals/churn", role: "read", body: { customerId: "nobody" } },
    { method: "GET", path: "/signals/churn/no-such-job", role: "read" },
    { method: "DELETE", path: "/clients/nobody-to-erase", role: "admin" },
    { method: "GET", path: "/admin/queues", role: "admin" },
    { method: "GET", path: "/admin/queues/api/queues", role: "admin" },
    { method: "GET", path: "/admin/dead-letters", role: "admin" },
    { method: "POST", path: "/admin/dead-letters/replay", role: "admin", body: { ids: ["none"] } },
    { method: "POST", path: "/admin/suppressions/lift", role: "admin", body: { ids: ["none"] } },
  ] as const;
  const keyOf = { write: TEST_KEYS.write, read: TEST_KEYS.read, admin: TEST_KEYS.admin } as const;
  for (const route of routes) {
    const init = (): RequestInit => ("body" in route ? { body: JSON.stringify(route.body), headers: { "content-type": "application/json" } } : {});
    test(`${route.method} ${route.path}: no key → 401, other roles → 403, ${route.role} key → allowed`, async () => {
      expect((await call(route.method, route.path, null, init())).status).toBe(401);
      expect((await call(route.method, route.path, "not-a-key", init())).status).toBe(401);
      for (const other of ["write", "read", "admin"] as const)
        if (other !== route.role) expect((await call(route.method, route.path, keyOf[other], init())).status).toBe(403);
      const ok = await call(route.method, route.path, keyOf[route.role], init());
      expect([401, 403]).not.toContain(ok.status);
      expect(ok.status).toBeLessThan(500);
    });
  }

  test("ops routes need no key", async () => {
    for (const path of ["/health", "/ready", "/metrics", "/docs/json"]) expect((await call("GET", path)).status).toBe(200);
  });
});

describe("API docs", () => {
  test("the OpenAPI document covers every route, ingest bodies included, with examples", async () => {
    const spec = JSON.parse((await call("GET", "/docs/json")).text);
    for (const path of ["/events", "/v1/batch", "/v1/track", "/v1/identify", "/v1/alias", "/clients/{id}", "/health", "/ready", "/metrics", "/admin/dead-letters/replay", "/admin/queues"])
      expect(Object.keys(spec.paths)).toContain(path);
    const track = spec.paths["/v1/track"].post.requestBody.content["application/json"];
    expect(track.schema.properties.event).toBeDefined();
    expect(track.example.event).toBe("Order Completed");
    expect(Object.keys(spec.paths).some((p) => p.includes("/static/"))).toBe(false);
    expect((await call("GET", "/docs")).status).toBe(200);
  });

  test("the insight's behavioural predictions are documented with their intervals on both read routes", async () => {
    const spec = JSON.parse((await call("GET", "/docs/json")).text);
    const client = spec.paths["/clients/{id}"].get.responses["200"].content["application/json"].schema;
    const predictions = client.properties.insight.anyOf[0].properties.predictions;
    expect(Object.keys(predictions.properties)).toEqual(expect.arrayContaining(["expectedPurchases", "nextPurchase", "value", "pAlive", "basis"]));
    expect(Object.keys(predictions.properties.expectedPurchases.properties)).toEqual(["horizonDays", "value", "interval"]);
    expect(predictions.properties.value.properties.interval.description).toContain("90 %");
    expect(predictions.properties.nextPurchase.properties.likelyBy.description).toBeTruthy();
    const signal = spec.paths["/signals/churn"].post.responses["200"].content["application/json"].schema;
    expect(signal.properties.results.items.properties.insight.properties.predictions).toEqual(predictions);
  });
});

describe("rate limits", () => {
  test("a burst past the events limit gets 429 with Retry-After and loses no accepted event", async () => {
    const lh = await ingestHarness(testConfig(redis.url, { LIFELINE_RATE_LIMIT_EVENTS_PER_SEC: "50" }));
    try {
      const userId = `u-${uid()}`;
      const sent: string[][] = [];
      const results = [];
      for (let i = 0; i < 10; i++) {
        const batch = Array.from({ length: 20 }, (_, k) => ({ type: "track", userId, event: "E", messageId: `${userId}-${i}-${k}` }));
        sent.push(batch.map((e) => e.messageId));
        results.push(await lh.post("/v1/batch", { batch }));
      }
      const limited = results.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      expect(Number(limited[0]!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      const stored = new Set((await lh.storedEvents()).map((e) => e.messageId));
      results.forEach((r, i) => {
        for (const id of sent[i]!) expect(stored.has(id)).toBe(r.status === 200);
        if (r.status === 200) expect(r.body.accepted).toBe(20);
      });
    } finally {
      lh.close();
    }
  });

  test("a read key over its request limit gets 429; the limit holds across two API instances", async () => {
    const cfg = testConfig(redis.url, { LIFELINE_RATE_LIMIT_REQUESTS_PER_SEC: "5" });
    const [a, b] = [await ingestHarness(cfg), await ingestHarness(cfg)];
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        const app = i % 2 ? a.app : b.app;
        const res = await app.handle(new Request("http://lifeline.test/clients/x", { headers: { authorization: `Bearer ${TEST_KEYS.read}` } }));
        statuses.push(res.status);
        if (res.status === 429) expect(res.headers.get("retry-after")).toBeTruthy();
      }
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(5);
    } finally {
      a.close();
      b.close();
    }
  });
});

describe("/ready", () => {
  test("stopping Redis makes /ready answer 503 naming redis; starting it again makes it 200", async () => {
    const own = await startRedis();
    const rh = await ingestHarness(testConfig(own.url));
    try {
      expect((await rh.app.handle(new Request("http://lifeline.test/ready"))).status).toBe(200);
      await own.kill();
      const down = await rh.app.handle(new Request("http://lifeline.test/ready"));
      expect(down.status).toBe(503);
      expect(((await down.json()) as any).failing).toContain("redis");
      expect((await rh.app.handle(new Request("http://lifeline.test/health"))).status).toBe(200);
      await own.restart();
      const deadline = Date.now() + 15_000;
      let status = 0;
      while (Date.now() < deadline && status !== 200) {
        status = (await rh.app.handle(new Request("http://lifeline.test/ready"))).status;
        if (status !== 200) await Bun.sleep(200);
      }
      expect(status).toBe(200);
    } finally {
      rh.close();
      await own.stop();
    }
  });

  test("the backlog counts events, not stream entries: 3 events over the limit of 2 → 503 naming backlog, wherever they land", async () => {
    const bh = await ingestHarness(testConfig(redis.url, { LIFELINE_READY_MAX_BACKLOG: "2" }));
    try {
      // One request (often one stream entry) and three requests: the same 3 events either way.
      await bh.post("/events", [1, 2, 3].map((i) => ({ type: "track", userId: "same-customer", event: "E", messageId: `one-${i}-${uid()}` })));
      let res = await bh.app.handle(new Request("http://lifeline.test/ready"));
      let body = (await res.json()) as any;
      expect(res.status).toBe(503);
      expect(body.failing).toEqual(["backlog"]);
      expect(body.checks.backlog).toBe(3);
      for (const i of [1, 2, 3]) await bh.post("/events", { type: "track", userId: `spread-${i}-${uid()}`, event: "E" });
      res = await bh.app.handle(new Request("http://lifeline.test/ready"));
      body = (await res.json()) as any;
      expect(body.checks.backlog).toBe(6);
    } finally {
      bh.close();
    }
  });
});

describe("deployment", () => {
  // The compose plugin when the docker client has it, else Debian's docker-compose (the test setup installs it).
  const compose = [["docker", "compose"], ["docker-compose"]].find(
    ([cmd, ...args]) => spawnSync(cmd!, [...args, "version"], { stdio: "ignore" }).status === 0,
  );
  // Named "skipped" only when it is: a run that checked the file must not read as a skip, nor a skip as a pass.
  const title = "docker-compose.yml passes `docker compose config`";
  if (!compose) test.skip(`${title} (skipped: no docker compose client is installed)`, () => {});
  else test(title, () => {
    const [cmd, ...args] = compose!;
    const r = spawnSync(cmd!, [...args, "config", "--quiet"], {
      cwd: `${import.meta.dir}/../..`,
      env: { ...process.env, LIFELINE_WRITE_KEYS: "w", LIFELINE_READ_KEYS: "r", LIFELINE_ADMIN_KEYS: "a" },
      encoding: "utf8",
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
