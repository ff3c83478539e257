import { afterAll, beforeAll, expect, test, setDefaultTimeout } from "bun:test";
import { Analytics } from "@segment/analytics-node";
import RudderAnalytics from "@rudderstack/rudder-sdk-node";
import { startApi, type RunningApi } from "../../src/api/server";
import { createLogger } from "../../src/log/logger";
import { ingestHarness } from "../support/ingest-harness";
import { startRedis, type TestRedis } from "../support/redis-server";
import { TEST_KEYS, testConfig } from "../support/test-config";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

let redis: TestRedis;
let api: RunningApi;
let h: Awaited<ReturnType<typeof ingestHarness>>;

beforeAll(async () => {
  redis = await startRedis();
  const config = testConfig(redis.url, { HOST: "127.0.0.1" });
  api = await startApi(config, createLogger(config));
  h = await ingestHarness(config);
});
afterAll(async () => {
  h.close();
  await api.stop();
  await redis.stop();
});

async function waitForEvents(match: (e: any) => boolean, count: number) {
  for (let i = 0; i < 100; i++) {
    const found = (await h.storedEvents()).filter((s) => match(s.event));
    if (found.length >= count) return found;
    await Bun.sleep(50);
  }
  return (await h.storedEvents()).filter((s) => match(s.event));
}

test("@segment/analytics-node delivers track, identify and page with their fields", async () => {
  const userId = `seg-${crypto.randomUUID()}`;
  const analytics = new Analytics({ writeKey: TEST_KEYS.write, host: `http://127.0.0.1:${api.port}`, flushAt: 3, maxRetries: 1 });
  analytics.identify({ userId, traits: { email: "a@example.com", plan: "pro" } });
  analytics.track({ userId, event: "Order Completed", properties: { revenue: 42.5, currency: "EUR" } });
  analytics.page({ userId, name: "Pricing", properties: { path: "/pricing" } });
  await analytics.closeAndFlush({ timeout: 5_000 });

  const stored = await waitForEvents((e) => e.userId === userId, 3);
  const byType = Object.fromEntries(stored.map((s) => [s.event.type, s.event]));
  expect(Object.keys(byType).sort()).toEqual(["identify", "page", "track"]);
  expect(byType.track).toMatchObject({ event: "Order Completed", properties: { revenue: 42.5, currency: "EUR" } });
  expect(byType.identify.traits).toEqual({ email: "a@example.com", plan: "pro" });
  expect(byType.page).toMatchObject({ name: "Pricing", properties: { path: "/pricing" } });
  for (const { event: e } of stored) {
    expect(e.messageId).toBeString();
    expect(e.context.library.name).toBe("@segment/analytics-node");
    expect(Math.abs(Date.parse(e.timestamp) - Date.now())).toBeLessThan(60_000);
  }
});

test("@rudderstack/rudder-sdk-node delivers track, identify and page with their fields", async () => {
  const userId = `rs-${crypto.randomUUID()}`;
  const client = new RudderAnalytics(TEST_KEYS.write, { dataPlaneUrl: `http://127.0.0.1:${api.port}`, flushAt: 3, flushInterval: 200 } as never);
  client.identify({ userId, traits: { name: "Ada" } });
  client.track({ userId, event: "Product Viewed", properties: { product_id: "p1", price: 9.99 } });
  client.page({ userId, name: "Home", properties: { url: "https://shop.example/" } });
  await new Promise<void>((resolve) => client.flush(() => resolve()));

  const stored = await waitForEvents((e) => e.userId === userId, 3);
  const byType = Object.fromEntries(stored.map((s) => [s.event.type, s.event]));
  expect(Object.keys(byType).sort()).toEqual(["identify", "page", "track"]);
  expect(byType.track).toMatchObject({ event: "Product Viewed", properties: { product_id: "p1", price: 9.99 } });
  expect(byType.identify.traits).toMatchObject({ name: "Ada" });
  expect(byType.page.name).toBe("Home");
});
