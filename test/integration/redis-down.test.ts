import { afterAll, beforeAll, expect, test, setDefaultTimeout } from "bun:test";
import { ingestHarness } from "../support/ingest-harness";
import { startRedis, type TestRedis } from "../support/redis-server";
import { testConfig } from "../support/test-config";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

let redis: TestRedis;
let h: Awaited<ReturnType<typeof ingestHarness>>;

beforeAll(async () => {
  redis = await startRedis({ appendfsync: "always" });
  h = await ingestHarness(testConfig(redis.url, { LIFELINE_REDIS_TIMEOUT_MS: "500" }));
});
afterAll(async () => {
  h.close();
  await redis.stop();
});

const event = () => ({ type: "track", event: "Order Completed", userId: "u-1", messageId: crypto.randomUUID() });

test("while Redis is down ingest answers 503 with Retry-After, never 2xx; accepted events survive the crash", async () => {
  const before = event();
  expect((await h.post("/events", before)).status).toBe(200);

  await redis.kill();
  const during = await Promise.all(Array.from({ length: 5 }, () => h.post("/events", event())));
  for (const res of during) {
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(res.body.error).toBe("STORE_UNAVAILABLE");
  }

  await redis.restart();
  const after = event();
  let res = await h.post("/events", after);
  for (let i = 0; i < 50 && res.status !== 200; i++) {
    await Bun.sleep(100);
    res = await h.post("/events", after);
  }
  expect(res.status).toBe(200);
  const ids = (await h.storedEvents()).map((e) => e.messageId);
  expect(ids).toContain(before.messageId);
  expect(ids).toContain(after.messageId);
});
