import { afterAll, beforeAll, expect, test } from "bun:test";
import { createLogger } from "../../src/log/logger";
import { createStreamGroup } from "../../src/redis/keyed-commands";
import { CONSUMER_GROUP } from "../../queues/stream-bridge";
import { startWorkers } from "../../queues/worker-runtime";
import { ingestHarness } from "../support/ingest-harness";
import { parsePrometheusText } from "../support/prometheus-text";
import { startRedis, type TestRedis } from "../support/redis-server";
import { testConfig } from "../support/test-config";
import { waitFor } from "../support/wait-for";

// Issue 14.6: after an AOF rewrite and a Redis restart, XINFO's lag sticks at a phantom number
// although every entry was delivered. The backlog and lifeline_stream_group_lag must read 0.
let redis: TestRedis;

beforeAll(async () => {
  redis = await startRedis({ appendfsync: "always" });
});
afterAll(async () => {
  await redis.stop();
});

test("after an AOF rewrite and a Redis restart the backlog and the lag metric read 0 once all is delivered, then count new events exactly", async () => {
  const config = testConfig(redis.url, { LIFELINE_STREAM_PARTITIONS: "4", LIFELINE_READY_MAX_BACKLOG: "1000" });
  const h = await ingestHarness(config);
  const ready = async () => (await (await h.app.handle(new Request("http://lifeline.test/ready"))).json()) as any;
  const lags = async () =>
    parsePrometheusText(await (await h.app.handle(new Request("http://lifeline.test/metrics"))).text())
      .samples.filter((s) => s.name === "lifeline_stream_group_lag")
      .map((s) => s.value);
  const post = async (round: number) => {
    for (let b = 0; b < 5; b++) {
      const batch = Array.from({ length: 10 }, (_, i) => ({ type: "track", userId: `c-${i}`, event: "E", messageId: `r${round}-${b}-${i}` }));
      expect((await h.post("/v1/batch", { batch })).body.accepted).toBe(10);
    }
  };
  const drained = async () => waitFor(async () => (await ready()).checks.backlog === 0 && (await h.deps.profiles.get("c-9"))?.eventCounts.E === 5 * drainedRounds, 30_000, "the workers to drain");
  let drainedRounds = 0;
  try {
    await post(1);
    expect((await ready()).checks.backlog).toBe(50);
    const workers = await startWorkers(config, createLogger(config));
    drainedRounds = 1;
    await drained();
    await h.deps.redis.bgrewriteaof();
    await waitFor(async () => (await h.deps.redis.info("persistence")).includes("aof_rewrite_in_progress:0"), 10_000, "the AOF rewrite");
    await post(2);
    drainedRounds = 2;
    await drained();
    await workers.stop();

    await redis.kill();
    await redis.restart();
    const after = await waitFor(async () => {
      const r = await ready().catch(() => undefined);
      return r?.checks.redis === "ok" ? r : undefined;
    }, 15_000, "Redis back");
    // Here XINFO GROUPS reads lag 5 in every partition (Redis 7.0.15): the old /ready said backlog 20.
    expect({ backlog: after.checks.backlog, status: after.status, lags: await lags() }).toEqual({ backlog: 0, status: "ready", lags: [0, 0, 0, 0] });

    await post(3);
    expect((await ready()).checks.backlog).toBe(50);
    expect((await lags()).reduce((a, b) => a + b, 0)).toBe(50);
  } finally {
    h.close();
  }
});

test("a stream written before the counts existed starts them at its events not yet delivered", async () => {
  const config = testConfig(redis.url, { LIFELINE_STREAM_PARTITIONS: "1" });
  const h = await ingestHarness(config);
  try {
    const stream = h.deps.keys.stream(0);
    const entry = (ids: string[]) => ids.flatMap((id) => ["m", id, "e", JSON.stringify({ type: "track", userId: "old", event: "E", messageId: id })]);
    await createStreamGroup(h.deps.redis, stream, CONSUMER_GROUP);
    await h.deps.redis.xadd(stream, "*", ...entry(["a1", "a2", "a3"]));
    await h.deps.redis.xreadgroup("GROUP", CONSUMER_GROUP, "old-consumer", "COUNT", 1, "STREAMS", stream, ">");
    await h.deps.redis.xadd(stream, "*", ...entry(["b1", "b2"]));
    const backlog = async () => ((await (await h.app.handle(new Request("http://lifeline.test/ready"))).json()) as any).checks.backlog;
    expect(await backlog()).toBe(2);
    expect((await h.post("/v1/track", { userId: "old", event: "E", messageId: "c1" })).status).toBe(200);
    expect(await backlog()).toBe(3);
  } finally {
    h.close();
  }
});
