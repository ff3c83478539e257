// bun run bench:pipeline — stream → profile and stream → memory throughput, accept → profile and
// accept → memory lag, CPU per event of the API, the workers and Redis, with 1 and 2 worker
// processes, against the raw XREADGROUP+XACK drain rate of the same streams; then the per-event
// cost for customers who already hold long histories against new customers, in the same run.
import type { Subprocess } from "bun";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis from "ioredis";
import { freePort, startRedis, type TestRedis } from "../scripts/lib/redis-process";
import { keyspace } from "../src/redis/keys";
import { entryEvents } from "../src/streams/event-log";
import { Queue } from "bullmq";
import { queueNames, queuePrefix } from "../queues/names";
import { startHttpProcess } from "./lib/processes";
import { parseCli } from "../src/process/cli";

parseCli({
  command: "bun run bench:pipeline",
  description:
    "Stream → profile/memory throughput, accept → profile/memory lag and CPU per event with 1 and 2 worker processes vs a raw XREADGROUP+XACK drain, and per-event cost on grown histories vs new customers; writes bench/results/pipeline.json.",
});

const totalEvents = Number(process.env.BENCH_EVENTS ?? 200_000);
const customers = Number(process.env.BENCH_CUSTOMERS ?? 5_000);
const steadyRate = Number(process.env.BENCH_STEADY_RATE ?? 5_000);
const steadySeconds = Number(process.env.BENCH_STEADY_SECONDS ?? 20);
const grownCustomers = Number(process.env.BENCH_GROWN_CUSTOMERS ?? 200);
const grownHistory = Number(process.env.BENCH_GROWN_HISTORY ?? 1_000);
const grownRate = Number(process.env.BENCH_GROWN_RATE ?? 2_000);
const grownSeconds = Number(process.env.BENCH_GROWN_SECONDS ?? 10);
const partitions = 16;
const WRITE_KEY = "bench";
const READ_KEY = "bench-read";

const redisServer = await startRedis();
const redis = new Redis(redisServer.url);
const redisPid = Number(/process_id:(\d+)/.exec(await redis.info("server"))?.[1]);

/** CPU time (user + system) a process has used so far, in ms, from /proc (ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
type CpuSnapshot = { api: number; workers: number; redis: number };
const cpuSnapshot = (api: Subprocess, workers: Subprocess[]): CpuSnapshot => ({
  api: cpuMs(api.pid),
  workers: workers.reduce((sum, w) => sum + cpuMs(w.pid), 0),
  redis: cpuMs(redisPid),
});
/** µs of CPU per event each part spent between two snapshots. */
const cpuPerEvent = (from: CpuSnapshot, to: CpuSnapshot, events: number) => ({
  apiUs: +(((to.api - from.api) * 1000) / events).toFixed(1),
  workersUs: +(((to.workers - from.workers) * 1000) / events).toFixed(1),
  redisUs: +(((to.redis - from.redis) * 1000) / events).toFixed(1),
});

function event(n: number, userId = `c-${n % customers}`, atMs = Date.UTC(2024, 0, 1) + n * 1_000) {
  const names = ["Product Viewed", "Product Added", "Product Viewed", "Order Completed", "Page Viewed"];
  return {
    type: "track",
    userId,
    event: names[n % names.length],
    messageId: `e-${n}-${Math.random().toString(36).slice(2, 8)}`,
    timestamp: new Date(atMs).toISOString(),
    properties: { product_id: `p-${n % 500}`, name: `Product ${n % 500}`, price: 3.5, quantity: 1, revenue: 3.5, currency: "GBP" },
  };
}

/** Posts a batch as a well-behaved producer would: retrying 503/429 after Retry-After. */
async function post(port: number, batch: unknown[]) {
  const body = JSON.stringify({ batch });
  for (let attempt = 0; attempt < 20; attempt++) {
    const res = await fetch(`http://127.0.0.1:${port}/v1/batch`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${WRITE_KEY}` },
      body,
    });
    if (res.status === 200) return;
    if (res.status !== 503 && res.status !== 429) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
    await res.text();
    await Bun.sleep(Number(res.headers.get("retry-after") ?? 1) * 1000);
  }
  throw new Error("ingest kept answering 503/429");
}

async function ingest(port: number, count: number, offset: number, userOf?: (n: number) => string, atOf?: (n: number) => number) {
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) {
        const start = next;
        next += 100;
        await post(port, Array.from({ length: Math.min(100, count - start) }, (_, i) => event(offset + start + i, userOf?.(offset + start + i), atOf?.(offset + start + i))));
      }
    }),
  );
}

const benchCustomers = () => Array.from({ length: customers }, (_, c) => `c-${c}`);

async function appliedTotal(prefix: string, ids: string[] = benchCustomers()): Promise<number> {
  const keys = keyspace(prefix, partitions);
  const pipe = redis.pipeline();
  for (const id of ids) pipe.scard(keys.applied(id));
  const replies = (await pipe.exec()) ?? [];
  return replies.reduce((n, [, v]) => n + Number(v ?? 0), 0);
}

/** The baseline: drain the same streams with a second consumer group, XREADGROUP + XACK only. */
async function rawDrain(prefix: string): Promise<number> {
  const keys = keyspace(prefix, partitions);
  for (let p = 0; p < partitions; p++) await redis.xgroup("CREATE", keys.stream(p), "raw", "0");
  const t0 = performance.now();
  let events = 0;
  for (;;) {
    const replies = await Promise.all(
      Array.from({ length: partitions }, (_, p) => redis.xreadgroup("GROUP", "raw", "c1", "COUNT", 200, "STREAMS", keys.stream(p), ">") as Promise<[string, [string, string[]][]][] | null>),
    );
    let read = 0;
    await Promise.all(
      replies.map(async (reply, p) => {
        const entries = reply?.[0]?.[1] ?? [];
        if (!entries.length) return;
        read += entries.length;
        for (const [, fields] of entries) events += entryEvents(fields).length;
        await redis.xack(keys.stream(p), "raw", ...entries.map(([id]) => id));
      }),
    );
    if (!read) break;
  }
  return events / ((performance.now() - t0) / 1000);
}

function rssMb(pid: number): number {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
    return kb / 1024;
  } catch {
    return NaN;
  }
}

/** Waits until the embed queue is empty: every applied event is searchable in memory. */
async function memoryDrained(prefix: string, deadline: number): Promise<void> {
  const queue = new Queue(queueNames.embed, { connection: redis, prefix: queuePrefix({ LIFELINE_KEY_PREFIX: prefix }, queueNames.embed) });
  try {
    for (;;) {
      const c = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
      if ((c.waiting ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0) === 0) return;
      if (performance.now() > deadline) throw new Error("the embed queue did not drain");
      await Bun.sleep(100);
    }
  } finally {
    await queue.close();
  }
}

/** Waits until every due re-score has been queued and run (the refit job, if one runs, is left out). */
async function rescoresDrained(prefix: string, deadline: number): Promise<void> {
  const queue = new Queue(queueNames.inference, { connection: redis, prefix: queuePrefix({ LIFELINE_KEY_PREFIX: prefix }, queueNames.inference) });
  try {
    for (;;) {
      const c = await queue.getJobCounts("waiting", "prioritized");
      const due = await redis.zcard(keyspace(prefix, partitions).rescoreDue());
      if (due === 0 && (c.waiting ?? 0) + (c.prioritized ?? 0) === 0) return;
      if (performance.now() > deadline) throw new Error("re-scores did not drain");
      await Bun.sleep(100);
    }
  } finally {
    await queue.close();
  }
}

/**
 * Polls every `everyMs` until each pending probe passes `done`; records accept → done in ms.
 * Only the `perPoll` oldest are asked each time, so the polling does not grow with the lag it
 * measures (a probe done before older ones is seen late: the lag is never understated).
 */
function prober(done: (ids: string[]) => Promise<boolean[]>, everyMs: number, perPoll: number) {
  const lags: number[] = [];
  const pending = new Map<string, number>();
  let probing = true;
  const loop = (async () => {
    while (probing || pending.size) {
      const ids = [...pending.keys()].slice(0, perPoll);
      if (ids.length) {
        const found = await done(ids);
        const now = performance.now();
        ids.forEach((id, i) => {
          if (found[i]) {
            lags.push(now - pending.get(id)!);
            pending.delete(id);
          }
        });
      }
      await Bun.sleep(everyMs);
    }
  })();
  return {
    accepted: (id: string, at: number) => pending.set(id, at),
    async finish(): Promise<number[]> {
      probing = false;
      await loop;
      return lags;
    },
  };
}

// e.g. BENCH_WORKER_FLAGS="--cpu-prof-md --cpu-prof-dir=/tmp/prof" to profile the workers.
const workerFlags = (process.env.BENCH_WORKER_FLAGS ?? "").split(" ").filter(Boolean);

/** SIGTERM to the workers (they finish what they hold), then the API. */
async function stopProcesses(workers: Subprocess[], api: Subprocess): Promise<void> {
  for (const w of workers) w.kill("SIGTERM");
  await Promise.all(workers.map((w) => w.exited));
  api.kill();
}

function startWorkers(count: number, env: Record<string, string>): Subprocess[] {
  return Array.from({ length: count }, () =>
    Bun.spawn([process.execPath, ...workerFlags, "queues/run.ts"], { env: { ...process.env, ...env }, stdout: "ignore", stderr: "inherit" }),
  );
}

const summariseRss = (series: number[]) => ({ first: Math.round(series[0] ?? NaN), last: Math.round(series.at(-1) ?? NaN), max: Math.round(Math.max(...series)) });

const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

function scenarioEnv(prefix: string, extra: Record<string, string> = {}) {
  return {
    LIFELINE_DATA_DIR: mkdtempSync(join(tmpdir(), "lifeline-bench-pipeline-")),
    REDIS_URL: redisServer.url,
    LIFELINE_KEY_PREFIX: prefix,
    LIFELINE_WRITE_KEYS: WRITE_KEY,
    LIFELINE_READ_KEYS: READ_KEY,
    LOG_LEVEL: "warn",
    HOST: "127.0.0.1",
    LIFELINE_RATE_LIMIT_EVENTS_PER_SEC: "100000000",
    LIFELINE_RATE_LIMIT_REQUESTS_PER_SEC: "100000000",
    // A fresh system refits as soon as data arrives and again as it grows: a core busy for tens of
    // seconds that a running deployment spends every few hours. Off, so the figures are the
    // pipeline's own (bench:inference measures refits).
    LIFELINE_REFIT_AUTO: "false",
    ...extra,
  };
}

/** Is the customer's event searchable in memory yet? Asked of the API, as a user would. */
async function inMemory(port: number, customerId: string): Promise<boolean> {
  const res = await fetch(`http://127.0.0.1:${port}/clients/${customerId}/memory?limit=1`, { headers: { authorization: `Bearer ${READ_KEY}` } });
  if (res.status === 404) return (await res.text(), false);
  if (res.status !== 200) throw new Error(`memory answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { events: unknown[] }).events.length > 0;
}

async function scenario(workerCount: number) {
  const prefix = `bench${workerCount}w${Date.now()}`;
  const env = scenarioEnv(prefix);
  const port = await freePort();
  const api = await startHttpProcess("src/api/server.ts", port, env);

  // 1. backlog: N events accepted while no worker runs
  const beforeIngest = cpuSnapshot(api, []);
  const ingestStart = performance.now();
  await ingest(port, totalEvents, 0);
  const ingestSeconds = (performance.now() - ingestStart) / 1000;
  const afterIngest = cpuSnapshot(api, []);
  const drainRate = workerCount === 1 ? await rawDrain(prefix) : undefined;

  // 2. throughput: workers drain the backlog into profiles, then into memory
  const workers = startWorkers(workerCount, env);
  const atStart = cpuSnapshot(api, workers);
  const t0 = performance.now();
  const rss: number[][] = workers.map(() => []);
  let applied = 0;
  while (applied < totalEvents) {
    await Bun.sleep(250);
    applied = await appliedTotal(prefix);
    workers.forEach((w, i) => rss[i]!.push(rssMb(w.pid)));
    if (performance.now() - t0 > 600_000) throw new Error(`stuck at ${applied}/${totalEvents}`);
  }
  const throughput = totalEvents / ((performance.now() - t0) / 1000);
  const atProfiles = cpuSnapshot(api, workers);
  await memoryDrained(prefix, t0 + 900_000);
  const memorySeconds = (performance.now() - t0) / 1000;
  const atMemory = cpuSnapshot(api, workers);
  // Re-scoring is debounced (a customer is scored once their events pause), so it ends later.
  await rescoresDrained(prefix, t0 + 1_200_000);
  const scoredSeconds = (performance.now() - t0) / 1000;
  const atScored = cpuSnapshot(api, workers);
  const steadyRss: number[][] = workers.map(() => []);

  // 3. lag at a steady rate: one probe customer per batch, polled until its profile exists
  // (accept → profile) and until the API finds its event in memory (accept → memory)
  const keys = keyspace(prefix, partitions);
  // Polled gently (a few thousand Redis calls and ~100 API requests a second): polling harder
  // took CPU from the very processes whose lag it measures.
  const profileProbe = prober((ids) => Promise.all(ids.map(async (id) => (await redis.exists(keys.profile(id))) === 1)), 10, 32);
  // Through the API, as a user would see it.
  const memoryProbe = prober((ids) => Promise.all(ids.map((id) => inMemory(port, id))), 50, 6);
  const batchesPerSecond = steadyRate / 100;
  const steadyStart = performance.now();
  const atSteady = cpuSnapshot(api, workers);
  let n = totalEvents;
  const posts: Promise<void>[] = [];
  for (let b = 0; b < batchesPerSecond * steadySeconds; b++) {
    const due = steadyStart + (b * 1000) / batchesPerSecond;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    const probe = `probe-${workerCount}-${b}`;
    const batch = Array.from({ length: 99 }, () => event(n++));
    batch.push(event(n++, probe));
    posts.push(
      post(port, batch).then(() => {
        const at = performance.now();
        profileProbe.accepted(probe, at);
        memoryProbe.accepted(probe, at);
      }),
    );
    workers.forEach((w, i) => b % batchesPerSecond === 0 && steadyRss[i]!.push(rssMb(w.pid)));
  }
  await Promise.all(posts);
  const [lags, memoryLags] = await Promise.all([profileProbe.finish(), memoryProbe.finish()]);
  const steadyEvents = n - totalEvents;
  const atSteadyEnd = cpuSnapshot(api, workers);

  await stopProcesses(workers, api);
  return {
    workers: workerCount,
    events: totalEvents,
    ingestEventsPerSec: Math.round(totalEvents / ingestSeconds),
    streamToProfileEventsPerSec: Math.round(throughput),
    rawDrainEventsPerSec: drainRate && Math.round(drainRate),
    backlogToMemoryEventsPerSec: Math.round(totalEvents / memorySeconds),
    backlogToScoredSeconds: +scoredSeconds.toFixed(1),
    steadyRate,
    lagP50Ms: Math.round(pct(lags, 0.5)),
    lagP99Ms: Math.round(pct(lags, 0.99)),
    memoryLagP50Ms: Math.round(pct(memoryLags, 0.5)),
    memoryLagP99Ms: Math.round(pct(memoryLags, 0.99)),
    lagSamples: lags.length,
    cpuUsPerEvent: {
      ingest: cpuPerEvent(beforeIngest, afterIngest, totalEvents),
      streamToProfile: cpuPerEvent(atStart, atProfiles, totalEvents),
      streamToMemory: cpuPerEvent(atStart, atMemory, totalEvents),
      throughRescoring: cpuPerEvent(atStart, atScored, totalEvents),
      steadyRate: cpuPerEvent(atSteady, atSteadyEnd, steadyEvents),
    },
    workerRssMbDuringBacklog: rss.map(summariseRss),
    workerRssMbDuringSteadyRate: steadyRss.map(summariseRss),
  };
}

/**
 * Cost as histories grow: customers who already hold `grownHistory` events each take a steady
 * stream of events, then as many new customers take the same stream; the CPU the workers and
 * Redis spend per event (until memory and re-scores catch up) is compared.
 */
async function grownScenario() {
  const prefix = `benchgrown${Date.now()}`;
  const env = scenarioEnv(prefix);
  const port = await freePort();
  const api = await startHttpProcess("src/api/server.ts", port, env);
  const workers = startWorkers(1, env);
  const grown = Array.from({ length: grownCustomers }, (_, c) => `g-${c}`);
  const fresh = Array.from({ length: grownCustomers }, (_, c) => `f-${c}`);
  const until = async (ids: string[], total: number) => {
    const t0 = performance.now();
    while ((await appliedTotal(prefix, ids)) < total) {
      if (performance.now() - t0 > 900_000) throw new Error("grown-history events were not applied");
      await Bun.sleep(200);
    }
    await memoryDrained(prefix, t0 + 900_000);
    await rescoresDrained(prefix, t0 + 900_000);
  };

  // Each customer's history: every kind of event, a few hundred products, over 400 days.
  let n = 0;
  const preload = grownCustomers * grownHistory;
  const DAY = 86_400_000;
  await ingest(port, preload, n, (k) => grown[Math.floor(k / grownHistory)]!, (k) => Date.UTC(2023, 0, 1) + Math.floor(((k % grownHistory) * 400 * DAY) / grownHistory) + k);
  n += preload;
  await until(grown, preload);

  /** A steady stream of `grownRate` events/s over `ids` for `grownSeconds`; CPU per event until caught up. */
  const measure = async (ids: string[], appliedBefore: number) => {
    const events = grownRate * grownSeconds;
    const from = cpuSnapshot(api, workers);
    const start = performance.now();
    const offset = n;
    for (let b = 0; b < events / 100; b++) {
      const wait = start + (b * 100_000) / grownRate - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      // Five events in a row per customer, so each customer gets every kind of event.
      await post(port, Array.from({ length: 100 }, (_, i) => event(offset + b * 100 + i, ids[Math.floor((b * 100 + i) / 5) % ids.length])));
    }
    n += events;
    await until(ids, appliedBefore + events);
    const cpu = cpuPerEvent(from, cpuSnapshot(api, workers), events);
    return { events, ...cpu, workersPlusRedisUs: +(cpu.workersUs + cpu.redisUs).toFixed(1) };
  };
  const newCustomers = await measure(fresh, 0);
  const grownCustomersCost = await measure(grown, preload);
  const profileBytes = Object.values(await redis.hgetall(keyspace(prefix, partitions).profile(grown[0]!))).reduce((n, v) => n + v.length, 0);

  await stopProcesses(workers, api);
  return {
    customers: grownCustomers,
    historyEventsEach: grownHistory,
    rate: grownRate,
    grownProfileBytes: profileBytes,
    newCustomers,
    grownCustomers: grownCustomersCost,
    grownToNewRatio: +(grownCustomersCost.workersPlusRedisUs / newCustomers.workersPlusRedisUs).toFixed(2),
    target: "≤ 1.5",
  };
}

// BENCH_ONLY_ONE_WORKER=1: the one-worker run alone, printed and not saved (for profiling).
if (process.env.BENCH_ONLY_ONE_WORKER) {
  console.log(JSON.stringify(await scenario(1), null, 2));
  // Which Redis commands the run sent, most time first.
  const stats = (await redis.info("commandstats")).split("\n").filter((l) => l.startsWith("cmdstat_"));
  const parsed = stats.map((l) => ({ command: l.slice(8, l.indexOf(":")), calls: Number(/calls=(\d+)/.exec(l)?.[1]), usec: Number(/usec=(\d+)/.exec(l)?.[1]) }));
  console.log(parsed.sort((a, b) => b.usec - a.usec).slice(0, 25).map((c) => `${c.command}\t${c.calls}\t${c.usec}`).join("\n"));
  redis.disconnect();
  await redisServer.stop();
  process.exit(0);
}
const runs = [await scenario(1), await scenario(2)];
const grown = await grownScenario();
const baseline = runs[0]!.rawDrainEventsPerSec!;
const results = {
  at: new Date().toISOString(),
  baseline: "raw XREADGROUP + XACK drain of the same streams, same run",
  automaticRefits: "off (LIFELINE_REFIT_AUTO=false): a fresh system's first refits would share the cores with the run",
  rawDrainEventsPerSec: baseline,
  runs: runs.map((r) => ({ ...r, ratioToRawDrain: +(r.streamToProfileEventsPerSec / baseline).toFixed(3) })),
  secondWorkerSpeedup: +(runs[1]!.streamToProfileEventsPerSec / runs[0]!.streamToProfileEventsPerSec).toFixed(2),
  grownHistories: grown,
  targets: { streamToProfileEventsPerSec: 40_000, backlogToMemoryEventsPerSec: 20_000, lagP99MsAt5k: 1_000, memoryLagP99MsAt5k: 2_000, grownToNewRatio: 1.5 },
};
redis.disconnect();
await (redisServer as TestRedis).stop();
mkdirSync("bench/results", { recursive: true });
// pipeline.json is the latest run; a copy named by its size keeps the short and the default run apart.
writeFileSync("bench/results/pipeline.json", JSON.stringify(results, null, 2));
writeFileSync(`bench/results/pipeline-${totalEvents}-events.json`, JSON.stringify(results, null, 2));
console.log(JSON.stringify(results, null, 2));
