import { expect, test } from "bun:test";
import { Queue } from "bullmq";
import { createRefitWatcher } from "../../queues/refit-watcher";
import type { InferenceJob } from "../../queues/inference.queue";
import { modelSlots } from "../../src/inference/model-slots";
import { createLogger } from "../../src/log/logger";
import { keyspace } from "../../src/redis/keys";
import { redisForFile } from "../support/redis-server";
import { testConfig } from "../support/test-config";

const ctx = redisForFile();

test("automatic refits wait while cleaning is backed up (a big import), then go", async () => {
  const redis = ctx.client;
  const keys = keyspace("refit-yield", 4);
  const config = testConfig(ctx.server.url, { LOG_LEVEL: "silent" });
  const inference = new Queue<InferenceJob>("inference", { connection: redis, prefix: "refit-yield:{q-inference}" });
  const cleans = new Queue("clean", { connection: redis, prefix: "refit-yield:{q-clean}" });
  const watcher = createRefitWatcher({
    redis, keys, queue: inference, slots: modelSlots(redis, keys), config, log: createLogger(config), upstream: [{ queue: cleans, backlog: 1 }],
  });
  await redis.hset(keys.dataStats(), "customers", 40, "purchases", 90);
  await cleans.addBulk([{ name: "batch", data: {} }, { name: "batch", data: {} }]);
  expect(await watcher.checkOnce()).toBeUndefined();
  expect(await inference.getWaitingCount()).toBe(0);
  await cleans.drain();
  expect(await watcher.checkOnce()).toBe("no model fitted yet");
  expect(await inference.getWaitingCount()).toBe(1);
});
