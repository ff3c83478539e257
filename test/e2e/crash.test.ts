import { afterAll, beforeAll, expect, test, setDefaultTimeout } from "bun:test";
import type { Subprocess } from "bun";
import { join } from "node:path";
import { loadConfig } from "../../src/config";
import { ingestHarness } from "../support/ingest-harness";
import { startRedis, type TestRedis } from "../support/redis-server";
import { testEnv } from "../support/test-config";
import { waitFor } from "../support/wait-for";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

let redis: TestRedis;
let env: Record<string, string>;
let h: Awaited<ReturnType<typeof ingestHarness>>;
const workers: Subprocess[] = [];

beforeAll(async () => {
  redis = await startRedis({ appendfsync: "always" });
  env = testEnv(redis.url, {
    LIFELINE_CLAIM_IDLE_MS: "1000",
    LIFELINE_STALLED_INTERVAL_MS: "1000",
    LIFELINE_JOB_MAX_EVENTS: "200",
    LIFELINE_BRIDGE_READ_COUNT: "20",
  });
  h = await ingestHarness(loadConfig(env));
});
afterAll(async () => {
  for (const w of workers) w.kill("SIGKILL");
  h.close();
  await redis.stop();
});

const startWorker = () => {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "../../queues/run.ts")], { env: { ...process.env, ...env }, stdout: "ignore", stderr: "inherit" });
  workers.push(proc);
  return proc;
};

test("a worker killed with SIGKILL mid-batch and restarted counts every accepted event exactly once", async () => {
  const customers = Array.from({ length: 100 }, (_, i) => `crash-${i}`);
  const accepted: { messageId: string; userId: string }[] = [];
  for (let b = 0; b < 150; b++) {
    const batch = Array.from({ length: 100 }, (_, i) => {
      const userId = customers[(b * 100 + i) % customers.length]!;
      return { type: "track", userId, event: "Product Viewed", messageId: `crash-${b}-${i}`, properties: { product_id: `p${i % 7}` } };
    });
    const res = await h.post("/v1/batch", { batch });
    expect(res.body.accepted).toBe(100);
    accepted.push(...batch.map(({ messageId, userId }) => ({ messageId, userId })));
  }

  const countApplied = async () => {
    let total = 0;
    for (const c of customers) total += Number((await h.deps.profiles.get(c))?.eventCounts["Product Viewed"] ?? 0);
    return total;
  };

  const first = startWorker();
  await waitFor(async () => (await countApplied()) > 500, 60_000, "the first worker to be mid-way");
  first.kill("SIGKILL");
  await first.exited;
  const atKill = await countApplied();
  expect(atKill).toBeLessThan(accepted.length);

  startWorker();
  await waitFor(async () => (await countApplied()) >= accepted.length, 120_000, "all events to be applied");
  await Bun.sleep(1_500); // anything still in flight (a double count) would land now

  const expected = new Map<string, number>();
  for (const a of accepted) expected.set(a.userId, (expected.get(a.userId) ?? 0) + 1);
  for (const c of customers) {
    const profile = await h.deps.profiles.get(c);
    expect(profile?.eventCounts["Product Viewed"]).toBe(expected.get(c));
    const applied = await h.deps.redis.scard(h.deps.keys.applied(c));
    expect(applied).toBe(expected.get(c)!);
  }
  expect(await countApplied()).toBe(accepted.length);
});
