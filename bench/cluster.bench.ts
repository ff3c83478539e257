// bun run bench:cluster — the same ingest (100-event batches on /v1/batch) and pipeline (stream →
// profile, one worker process) run on a single redis-server and on a local Redis Cluster
// (3 masters + 3 replicas), as a ratio; and what LIFELINE_INGEST_WAIT_REPLICAS=1 costs per
// request (p50/p99, interleaved A/B against the same cluster in the same run).
import type { Subprocess } from "bun";
import { mkdirSync, writeFileSync } from "node:fs";
import Redis, { Cluster } from "ioredis";
import { freePort, startRedis } from "../scripts/lib/redis-process";
import { keyspace } from "../src/redis/keys";
import { startRedisCluster } from "../test/support/redis-cluster";
import { startHttpProcess } from "./lib/processes";
import { parseCli } from "../src/process/cli";

parseCli({ command: "bun run bench:cluster", description: "Ingest and pipeline on a local 3+3 Redis Cluster vs one redis-server (ratio), and the cost of LIFELINE_INGEST_WAIT_REPLICAS=1; writes bench/results/cluster.json." });

const totalEvents = Number(process.env.BENCH_EVENTS ?? 20_000);
const customers = Number(process.env.BENCH_CUSTOMERS ?? 2_000);
const latencyRequests = Number(process.env.BENCH_LATENCY_REQUESTS ?? 400);
const partitions = 16;
const WRITE_KEY = "bench";

function event(n: number) {
  const names = ["Product Viewed", "Product Added", "Product Viewed", "Order Completed", "Page Viewed"];
  return {
    type: "track",
    userId: `c-${n % customers}`,
    event: names[n % names.length],
    messageId: `e-${n}-${Math.random().toString(36).slice(2, 8)}`,
    timestamp: new Date(Date.UTC(2024, 0, 1) + n * 1_000).toISOString(),
    properties: { product_id: `p-${n % 500}`, name: `Product ${n % 500}`, price: 3.5, quantity: 1, revenue: 3.5, currency: "GBP" },
  };
}

async function post(port: number, batch: unknown[]): Promise<number> {
  const body = JSON.stringify({ batch });
  for (let attempt = 0; attempt < 20; attempt++) {
    const res = await fetch(`http://127.0.0.1:${port}/v1/batch`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${WRITE_KEY}` }, body });
    await res.text();
    if (res.status === 200) return attempt;
    if (res.status !== 503 && res.status !== 429) throw new Error(`ingest answered ${res.status}`);
    await Bun.sleep(Number(res.headers.get("retry-after") ?? 1) * 1000);
  }
  throw new Error("ingest kept answering 503/429");
}

async function ingest(port: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < totalEvents) {
        const start = next;
        next += 100;
        await post(port, Array.from({ length: Math.min(100, totalEvents - start) }, (_, i) => event(start + i)));
      }
    }),
  );
  return totalEvents / ((performance.now() - t0) / 1000);
}

async function appliedTotal(redis: Redis | Cluster, prefix: string): Promise<number> {
  const keys = keyspace(prefix, partitions);
  // One command per customer, auto-pipelined per node (a Cluster pipeline cannot span nodes).
  const counts = await Promise.all(Array.from({ length: customers }, (_, c) => redis.scard(keys.applied(`c-${c}`))));
  return counts.reduce((n, v) => n + v, 0);
}

const envFor = (redisUrl: string, prefix: string, extra: Record<string, string> = {}) => ({
  REDIS_URL: redisUrl,
  LIFELINE_KEY_PREFIX: prefix,
  LIFELINE_WRITE_KEYS: WRITE_KEY,
  LOG_LEVEL: "warn",
  HOST: "127.0.0.1",
  LIFELINE_RATE_LIMIT_EVENTS_PER_SEC: "100000000",
  ...extra,
});

/** Ingest into a backlog with no worker running, then one worker process drains it into profiles. */
async function throughput(redisUrl: string, redis: Redis | Cluster) {
  const prefix = `benchc${Date.now()}`;
  const env = envFor(redisUrl, prefix);
  const port = await freePort();
  const api = await startHttpProcess("src/api/server.ts", port, env);
  const ingestPerSec = await ingest(port);
  const worker: Subprocess = Bun.spawn([process.execPath, "queues/run.ts"], { env: { ...process.env, ...env }, stdout: "ignore", stderr: "inherit" });
  const t0 = performance.now();
  let applied = 0;
  while (applied < totalEvents) {
    await Bun.sleep(250);
    applied = await appliedTotal(redis, prefix);
    if (performance.now() - t0 > 600_000) throw new Error(`stuck at ${applied}/${totalEvents}`);
  }
  const pipelinePerSec = totalEvents / ((performance.now() - t0) / 1000);
  worker.kill("SIGTERM");
  api.kill("SIGTERM");
  await Promise.all([worker.exited, api.exited]);
  return { ingestEventsPerSec: Math.round(ingestPerSec), pipelineEventsPerSec: Math.round(pipelinePerSec) };
}

const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};
const round2 = (x: number) => Math.round(x * 100) / 100;

/** One request at a time, alternating between an API without and one with WAIT 1, 20-event batches. */
async function waitLatency(redisUrl: string) {
  const prefix = `benchw${Date.now()}`;
  const [portA, portB] = [await freePort(), await freePort()];
  const plain = await startHttpProcess("src/api/server.ts", portA, envFor(redisUrl, prefix));
  const waiting = await startHttpProcess("src/api/server.ts", portB, envFor(redisUrl, prefix, { LIFELINE_INGEST_WAIT_REPLICAS: "1", LIFELINE_INGEST_WAIT_TIMEOUT_MS: "200" }));
  const ms: Record<"without" | "with", number[]> = { without: [], with: [] };
  let retries = 0;
  for (let i = 0; i < 40; i++) await post(i % 2 ? portB : portA, Array.from({ length: 20 }, (_, j) => event(10_000_000 + i * 20 + j))); // warm-up
  for (let i = 0; i < latencyRequests * 2; i++) {
    const which = i % 2 ? "with" : "without";
    const batch = Array.from({ length: 20 }, (_, j) => event(20_000_000 + i * 20 + j));
    const t0 = performance.now();
    retries += await post(which === "with" ? portB : portA, batch);
    ms[which].push(performance.now() - t0);
  }
  plain.kill("SIGTERM");
  waiting.kill("SIGTERM");
  await Promise.all([plain.exited, waiting.exited]);
  const figures = (xs: number[]) => ({ p50Ms: round2(pct(xs, 0.5)), p99Ms: round2(pct(xs, 0.99)) });
  return { requests: latencyRequests, eventsPerRequest: 20, without: figures(ms.without), with: figures(ms.with), retriedRequests: retries };
}

const single = await startRedis();
const singleClient = new Redis(single.url);
const singleRun = await throughput(single.url, singleClient);
singleClient.disconnect();
await single.stop();

const cluster = await startRedisCluster();
const clusterClient = new Cluster(cluster.seeds.split(",").map((s) => ({ host: "127.0.0.1", port: Number(s.split(":")[1]) })), { scaleReads: "master" });
const clusterRun = await throughput(cluster.url, clusterClient);
const latency = await waitLatency(cluster.url);
clusterClient.disconnect();
await cluster.stop();

const results = {
  measuredAt: new Date().toISOString(),
  machine: { cpus: navigator.hardwareConcurrency, note: "everything on one machine: the cluster's 6 redis-servers share the same cores as the API and worker" },
  events: totalEvents,
  customers,
  single: singleRun,
  cluster: clusterRun,
  ratio: {
    ingestClusterVsSingle: round2(clusterRun.ingestEventsPerSec / singleRun.ingestEventsPerSec),
    pipelineClusterVsSingle: round2(clusterRun.pipelineEventsPerSec / singleRun.pipelineEventsPerSec),
  },
  ingestWaitReplicas: { ...latency, p50CostMs: round2(latency.with.p50Ms - latency.without.p50Ms), p99CostMs: round2(latency.with.p99Ms - latency.without.p99Ms) },
};
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/cluster.json", `${JSON.stringify(results, null, 2)}\n`);
console.log(JSON.stringify(results, null, 2));
