import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { loadConfig } from "../../src/config";
import { createEmbedder } from "../../src/embeddings/create-embedder";
import { createMemoryStore } from "../../src/memory/create-memory-store";
import type { MemoryStore } from "../../src/memory/memory-store";
import { openQueues } from "../../queues/open-queues";
import { ingestHarness } from "../support/ingest-harness";
import { startRedis, type TestRedis } from "../support/redis-server";
import { testEnv } from "../support/test-config";
import { waitFor } from "../support/wait-for";
import { spawnWorker } from "../support/worker-process";

// Issue 14.5: workers SIGKILLed shortly after each start, 16 times, must not turn accepted events
// into dead letters; once one worker drains, every event is in its profile and its memory, once.
const EVENTS = 20_000;
const CUSTOMERS = 200;
const CYCLES = 16;

let redis: TestRedis;
const running = new Set<Subprocess>();

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  for (const w of running) w.kill("SIGKILL");
  await redis.stop();
});

async function crashLoop(killAfterMs: number) {
  const env = testEnv(redis.url, {
    // A killed worker's jobs stall (lock 5 s) and are found again every second: many stalls per job.
    LIFELINE_STALLED_INTERVAL_MS: "1000",
    LIFELINE_CLAIM_IDLE_MS: "1000",
    LIFELINE_JOB_MAX_EVENTS: "500",
    LIFELINE_BRIDGE_READ_COUNT: "50",
  });
  const config = loadConfig(env);
  const h = await ingestHarness(config);
  const embedder = await createEmbedder(config);
  let memory: MemoryStore | undefined;
  const customer = (i: number) => `loop-${i % CUSTOMERS}`;
  const start = () => {
    const w = spawnWorker(env);
    running.add(w.proc);
    return w;
  };
  try {
    for (let b = 0; b < EVENTS / 100; b++) {
      const batch = Array.from({ length: 100 }, (_, i) => ({ type: "track", userId: customer(b * 100 + i), event: "Product Viewed", messageId: `loop-${b}-${i}`, properties: { product_id: `p${i % 9}` } }));
      expect((await h.post("/v1/batch", { batch })).body.accepted).toBe(100);
    }

    // "After start" counts from the worker's "workers started": loading the local model takes
    // about a second on a busy machine, and a worker killed before that has taken no job.
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const pair = [start(), start()];
      await Promise.all(pair.map((w) => w.started));
      await Bun.sleep(killAfterMs);
      for (const w of pair) w.proc.kill("SIGKILL");
      for (const w of pair) (await w.proc.exited, running.delete(w.proc));
      await Bun.sleep(200);
    }

    const last = start();
    memory = await createMemoryStore(config, embedder);
    await memory.init();
    const applied = async () => {
      let n = 0;
      for (let c = 0; c < CUSTOMERS; c++) n += (await h.deps.profiles.get(customer(c)))?.eventCounts["Product Viewed"] ?? 0;
      return n;
    };
    await waitFor(async () => (await applied()) >= EVENTS && (await memory!.count()) >= EVENTS, 240_000, "every event in profiles and memory");
    await Bun.sleep(1_500); // a double count still in flight would land now
    last.proc.kill("SIGTERM");
    await last.proc.exited;
    running.delete(last.proc);

    const queues = openQueues(config, h.deps.redis);
    const deadLetters = await queues["dead-letter"].getJobCounts("waiting");
    const failed = await Promise.all([queues.clean, queues.embed].map((q) => q.getJobCounts("failed")));
    for (const q of Object.values(queues)) await q.close();
    const perCustomer = EVENTS / CUSTOMERS;
    const wrong: string[] = [];
    for (let c = 0; c < CUSTOMERS; c++) {
      const id = customer(c);
      const inProfile = (await h.deps.profiles.get(id))?.eventCounts["Product Viewed"];
      const inApplied = await h.deps.redis.scard(h.deps.keys.applied(id));
      const inMemory = await memory.count(id);
      if (inProfile !== perCustomer || inApplied !== perCustomer || inMemory !== perCustomer) wrong.push(`${id}: profile ${inProfile}, applied ${inApplied}, memory ${inMemory}`);
    }
    return { applied: await applied(), points: await memory.count(), deadLetters: deadLetters.waiting ?? 0, failed: failed.map((f) => f.failed ?? 0), wrong };
  } finally {
    await memory?.close();
    h.close();
  }
}

describe("a crash-looping worker", () => {
  for (const killAfterMs of [1_000, 250])
    test(`killed ${killAfterMs} ms after each start, ${CYCLES} times: every accepted event in profile and memory exactly once, no dead letters`, async () => {
      const result = await crashLoop(killAfterMs);
      expect(result).toEqual({ applied: EVENTS, points: EVENTS, deadLetters: 0, failed: [0, 0], wrong: [] });
    }, 600_000);
});
