// bun run bench:inference — bulk scoring (customers/s through the inference queue on one worker)
// and single-customer latency (fallback strategy, no LLM), against the same run's cost of just
// reading the profile.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanEvent, type CleanEvent } from "../pipelines/clean-event";
import type { StoredEvent } from "../pipelines/segment";
import { enqueueScores, type InferenceJob } from "../queues/inference.queue";
import { startWorkers } from "../queues/worker-runtime";
import { startRedis } from "../scripts/lib/redis-process";
import { loadConfig } from "../src/config";
import { createLogger } from "../src/log/logger";
import { pointId } from "../src/memory/point-id";
import { renderEventText } from "../pipelines/render-text";
import type { Queue } from "bullmq";
import { parseCli } from "../src/process/cli";

parseCli({ command: "bun run bench:inference", description: "Bulk scoring customers/s through the inference queue on one worker and single-customer p50/p99 vs reading the profile; writes bench/results/inference.json." });

const customers = Number(process.env.BENCH_CUSTOMERS ?? 5_000);
const singles = Number(process.env.BENCH_SINGLES ?? 500);
const DAY = 86_400_000;

const redis = await startRedis();
const dataDir = mkdtempSync(join(tmpdir(), "lifeline-bench-inference-"));
const config = loadConfig({
  REDIS_URL: redis.url,
  LIFELINE_DATA_DIR: dataDir,
  LIFELINE_KEY_PREFIX: "benchinf",
  LIFELINE_WRITE_KEYS: "w",
  LIFELINE_READ_KEYS: "r",
  LIFELINE_ADMIN_KEYS: "a",
  LOG_LEVEL: "warn",
  LIFELINE_WORKER_CONCURRENCY: process.env.BENCH_CONCURRENCY ?? "16",
  // The bench refits once, on the whole population, before measuring. Automatic refits would
  // start while the population is being written and keep a core busy through the measurement
  // (on 2 cores that cut bulk scoring 10×: 46/s against 487/s for 3,000 customers).
  LIFELINE_REFIT_AUTO: "false",
});
const runtime = await startWorkers(config, createLogger(config));

// A population written straight through the profile store and the memory (the pipeline is
// measured by bench:pipeline): regular, lapsing and churning customers over the last year.
const now = Date.now();
let seq = 0;
function history(c: number): CleanEvent[] {
  const every = 7 + (c % 30);
  const stopsAt = c % 3 === 0 ? now - (60 + (c % 120)) * DAY : now;
  const events: CleanEvent[] = [];
  for (let t = now - 365 * DAY + (c % 20) * DAY; t < stopsAt; t += every * DAY) {
    const product = { product_id: `sku-${(c * 7 + seq) % 400}`, name: `Product ${(c * 7 + seq) % 400}`, category: `cat-${c % 12}`, price: 9.5, quantity: 1 + (seq % 3) };
    for (const [event, props] of [
      ["Product Viewed", product],
      ["Order Completed", { revenue: 9.5 * product.quantity, currency: "GBP", products: [product] }],
    ] as const) {
      const stored = { type: "track", userId: `c${c}`, event, messageId: `m${seq++}`, timestamp: new Date(t).toISOString(), receivedAt: new Date(t).toISOString(), properties: props } as unknown as StoredEvent;
      const r = cleanEvent(stored);
      if (r.ok) events.push(r.event);
    }
  }
  if (c % 10 === 0) {
    const r = cleanEvent({ type: "track", userId: `c${c}`, event: "Subscription Cancelled", messageId: `m${seq++}`, timestamp: new Date(now - 20 * DAY).toISOString(), receivedAt: new Date(now).toISOString(), properties: {} } as unknown as StoredEvent);
    if (r.ok) events.push(r.event);
  }
  return events;
}

console.error(`building ${customers} customers…`);
for (let c = 0; c < customers; c += 200) {
  await Promise.all(
    Array.from({ length: Math.min(200, customers - c) }, async (_, i) => {
      const id = `c${c + i}`;
      const { applied } = await runtime.profiles.apply(id, history(c + i));
      const vectors = await runtime.embedder.embed(applied.map(renderEventText));
      await runtime.memory.upsert(
        applied.map((e, k) => ({
          id: pointId(e.messageId),
          customerId: id,
          vector: vectors[k]!,
          payload: { messageId: e.messageId, type: e.type, event: e.name, stage: e.stage, ts: e.ts, text: renderEventText(e) },
        })),
      );
    }),
  );
}
console.error("fitting models…");
const refitStart = performance.now();
await runtime.refit();
const refitSeconds = (performance.now() - refitStart) / 1000;
const ids = Array.from({ length: customers }, (_, c) => `c${c}`);

const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
async function latencies(n: number, fn: (id: string) => Promise<unknown>) {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(ids[(i * 7919) % ids.length]!);
    ms.push(performance.now() - t);
  }
  return { p50Ms: +pct(ms, 0.5).toFixed(2), p99Ms: +pct(ms, 0.99).toFixed(2) };
}
async function throughput(fn: (id: string) => Promise<unknown>, concurrency = 16) {
  let next = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next < ids.length) await fn(ids[next++]!); }));
  return ids.length / ((performance.now() - t) / 1000);
}

// Baseline: just reading the profile.
const readSingle = await latencies(singles, (id) => runtime.profiles.get(id));
const readBulk = await throughput((id) => runtime.profiles.get(id));
// Lifeline: one customer scored in-process (churn, recommendations, memory retrieval, fallback strategy).
await runtime.insights.compute(ids[0]!); // warm caches (model load)
const cpuBefore = process.cpuUsage();
const scoreSingle = await latencies(singles, (id) => runtime.insights.compute(id));
const cpu = process.cpuUsage(cpuBefore);
const cpuMsPerScore = (cpu.user + cpu.system) / 1000 / singles;
// Bulk through the real inference queue and worker.
const queue = runtime.queues.inference as Queue<InferenceJob>;
const bulkStart = performance.now();
const jobs = await enqueueScores(queue, ids);
const lastIds = new Set(jobs.map((j) => j.jobId));
for (;;) {
  const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
  if ((counts.waiting ?? 0) + (counts.active ?? 0) + (counts.prioritized ?? 0) === 0) break;
  await Bun.sleep(50);
}
const bulkPerSec = ids.length / ((performance.now() - bulkStart) / 1000);
const failed = await queue.getJobCountByTypes("failed");

await runtime.stop();
await redis.stop();
rmSync(dataDir, { recursive: true, force: true });

const results = {
  at: new Date().toISOString(),
  customers,
  refitSeconds: +refitSeconds.toFixed(2),
  baseline: "reading the profile from Redis (profiles.get), same run",
  bulk: {
    lifelineCustomersPerSec: Math.round(bulkPerSec),
    baselineCustomersPerSec: Math.round(readBulk),
    ratio: +(bulkPerSec / readBulk).toFixed(3),
    target: 2000,
    failedJobs: failed,
    jobs: lastIds.size,
  },
  single: { lifeline: scoreSingle, baseline: readSingle, targetP99Ms: 50, lifelineCpuMsPerCustomer: +cpuMsPerScore.toFixed(2) },
};
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/inference.json", JSON.stringify(results, null, 2));
console.log(JSON.stringify(results, null, 2));
process.exit(0);
