// bun run bench:ingest — Lifeline's ingest throughput against baselines measured in the same run.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startRedis } from "../scripts/lib/redis-process";
import { requireCommand, startHttpProcess, wrk, type WrkResult } from "./lib/processes";
import { parseCli } from "../src/process/cli";

parseCli({ command: "bun run bench:ingest", description: "Single-event POST /events vs a bare Elysia endpoint, 100-event batches vs redis-benchmark pipelined XADD; writes bench/results/ingest.json." });

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const connections = 64;

requireCommand("wrk", "wrk");
requireCommand("redis-benchmark", "redis-tools");

const redis = await startRedis();
const barePort = await freePort();
const lifelinePort = await freePort();
const bare = await startHttpProcess("bench/lib/bare-server.ts", barePort, {});
const lifeline = await startHttpProcess("src/api/server.ts", lifelinePort, {
  REDIS_URL: redis.url,
  // A fresh data folder: the API warms the vector memory at start, and an old ./data one could be large.
  LIFELINE_DATA_DIR: mkdtempSync(join(tmpdir(), "lifeline-bench-ingest-")),
  HOST: "127.0.0.1",
  LIFELINE_WRITE_KEYS: "bench",
  LOG_LEVEL: "warn",
  LIFELINE_KEY_PREFIX: "bench",
  // The limiter runs (its cost is measured) but never binds: the bench measures capacity.
  LIFELINE_RATE_LIMIT_EVENTS_PER_SEC: "100000000",
});

const best = (runs: WrkResult[]) => runs.reduce((a, b) => (b.requestsPerSec > a.requestsPerSec ? b : a));
function measure(url: string, batch: number): WrkResult {
  const runs: WrkResult[] = [];
  for (let r = 0; r < rounds; r++)
    runs.push(wrk(url, { seconds, connections, env: { BATCH: String(batch), RUN_ID: `${Date.now()}-${r}-${Math.random()}`, WRITE_KEY: "bench" } }));
  return best(runs);
}

// Interleave baseline and Lifeline so machine noise hits both.
const singleBare = measure(`http://127.0.0.1:${barePort}`, 0);
const singleLifeline = measure(`http://127.0.0.1:${lifelinePort}`, 0);
const batchLifeline = measure(`http://127.0.0.1:${lifelinePort}`, 100);

const payload = JSON.stringify({
  type: "track", event: "Product Viewed", userId: "user-1", messageId: "m-1", timestamp: "2024-05-01T10:00:00.000Z",
  properties: { product_id: "p-1", name: "WHITE HANGING HEART T-LIGHT HOLDER", price: 2.55, quantity: 6, category: "home decor" },
  context: { library: { name: "bench", version: "1.0" }, ip: "127.0.0.1" }, receivedAt: "2024-05-01T10:00:00.000Z",
});
const rb = spawnSync(
  "redis-benchmark",
  ["-p", String(redis.port), "-c", "50", "-n", "2000000", "-P", "100", "-q", "XADD", "bench:{rb}:events", "MAXLEN", "~", "1000000", "*", "m", "m-__rand_int__", "e", payload],
  { encoding: "utf8" },
);
const xaddPerSec = Number(/([\d.]+) requests per second/.exec(rb.stdout)?.[1] ?? NaN);

bare.kill();
lifeline.kill();
await redis.stop();

const results = {
  at: new Date().toISOString(),
  secondsPerRun: seconds,
  roundsTakenBest: rounds,
  connections,
  single: {
    baseline: "bare Elysia POST: read body + JSON.parse, no validation, no Redis",
    baselineRps: singleBare.requestsPerSec,
    lifelineRps: singleLifeline.requestsPerSec,
    ratio: singleLifeline.requestsPerSec / singleBare.requestsPerSec,
    target: 0.8,
    baselineP50Ms: singleBare.p50Ms,
    baselineP99Ms: singleBare.p99Ms,
    lifelineP50Ms: singleLifeline.p50Ms,
    lifelineP99Ms: singleLifeline.p99Ms,
    lifelineNon2xx: singleLifeline.non2xx,
  },
  batch100: {
    baseline: "redis-benchmark pipelined XADD (-P 100 -c 50) of the same event payload",
    baselineEventsPerSec: xaddPerSec,
    lifelineEventsPerSec: batchLifeline.requestsPerSec * 100,
    ratio: (batchLifeline.requestsPerSec * 100) / xaddPerSec,
    target: 0.5,
    lifelineP50Ms: batchLifeline.p50Ms,
    lifelineP99Ms: batchLifeline.p99Ms,
    lifelineNon2xx: batchLifeline.non2xx,
  },
};
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/ingest.json", JSON.stringify(results, null, 2));
console.log(JSON.stringify(results, null, 2));
console.log(`single-event ratio ${results.single.ratio.toFixed(3)} (target ≥ 0.8); batch ratio ${results.batch100.ratio.toFixed(3)} (target ≥ 0.5)`);
