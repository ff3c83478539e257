import { expect, test } from "bun:test";
import { Queue } from "bullmq";
import { createRescorer } from "../../queues/rescore";
import type { InferenceJob } from "../../queues/inference.queue";
import { createLogger } from "../../src/log/logger";
import { keyspace } from "../../src/redis/keys";
import { redisForFile } from "../support/redis-server";
import { testConfig } from "../support/test-config";

const ctx = redisForFile();

async function setup(name: string, opts: { maxWaiting: number; cleanBacklog?: number }) {
  const redis = ctx.client;
  const keys = keyspace(`rescore-${name}`, 4);
  const scores = new Queue<InferenceJob>("inference", { connection: redis, prefix: `rescore-${name}:{q-inference}` });
  const cleans = new Queue("clean", { connection: redis, prefix: `rescore-${name}:{q-clean}` });
  const log = createLogger(testConfig(ctx.server.url, { LOG_LEVEL: "silent" }));
  const rescorer = createRescorer(redis, keys, scores, log, { debounceMs: 1, pollMs: 10, maxWaiting: opts.maxWaiting, upstream: [{ queue: cleans, backlog: opts.cleanBacklog ?? 100 }] });
  const waitingIds = async () => (await scores.getWaiting()).map((j) => (j.data as { customerId: string }).customerId).sort();
  return { keys, scores, cleans, rescorer, waitingIds };
}

test("a busy customer keeps the due time of their first new event: scored once per window, not pushed back for ever", async () => {
  const { keys, rescorer } = await setup("busy", { maxWaiting: 100 });
  await rescorer.schedule(["c1"]);
  const first = await ctx.client.zscore(keys.rescoreDue(), "c1");
  await Bun.sleep(20);
  await rescorer.schedule(["c1", "c2"]);
  expect(await ctx.client.zscore(keys.rescoreDue(), "c1")).toBe(first);
  expect(Number(await ctx.client.zscore(keys.rescoreDue(), "c2"))).toBeGreaterThan(Number(first));
});

test("due customers become score jobs only as far as there is room, the rest stay due once each", async () => {
  const { keys, rescorer, waitingIds } = await setup("room", { maxWaiting: 2 });
  await rescorer.schedule(["a", "b", "c"]);
  await Bun.sleep(5);
  expect(await rescorer.pumpOnce()).toBe(2);
  expect(await rescorer.pumpOnce()).toBe(0);
  await rescorer.schedule(["a", "b", "c"]);
  expect(await ctx.client.zcard(keys.rescoreDue())).toBe(3);
  expect(await waitingIds()).toHaveLength(2);
});

test("while cleaning is behind, re-scores wait; once it catches up they go", async () => {
  const { rescorer, cleans, waitingIds } = await setup("ingest-first", { maxWaiting: 100, cleanBacklog: 1 });
  await cleans.addBulk([{ name: "batch", data: {} }, { name: "batch", data: {} }]);
  await rescorer.schedule(["x", "y"]);
  await Bun.sleep(5);
  expect(await rescorer.pumpOnce()).toBe(0);
  expect(await waitingIds()).toEqual([]);
  await cleans.drain();
  expect(await rescorer.pumpOnce()).toBe(2);
  expect(await waitingIds()).toEqual(["x", "y"]);
});
