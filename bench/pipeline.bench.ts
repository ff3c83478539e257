// bun run bench:pipeline — stream → profile throughput and accept → profile lag, with 1 and 2
// worker processes, against the raw XREADGROUP+XACK drain rate of the same streams.
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

parseCli({ command: "bun run bench:pipeline", description: "Stream → profile throughput and accept → profile lag with 1 and 2 worker processes vs a raw XREADGROUP+XACK drain; writes bench/results/pipeline.json." });

const totalEvents = Number(process.env.BENCH_EVENTS ?? 200_000);
const customers = Number(process.env.BENCH_CUSTOMERS ?? 5_000);
const steadyRate = Number(process.env.BENCH_STEADY_RATE ?? 5_000);
const steadySeconds = Number(process.env.BENCH_STEADY_SECONDS ?? 20);
const partitions = 16;
const WRITE_KEY = "bench";

const redisServer = await startRedis();
const redis = new Redis(redisServer.url);

function event(n: number, userId = `c-${n % customers}`) {
  const names = ["Product Viewed", "Product Added", "Product Viewed", "Order Completed", "Page Viewed"];
  return {
    type: "track",
    userId,
    event: names[n % names.length],
    messageId: `e-${n}-${Math.random().toString(36).slice(2, 8)}`,
    timestamp: new Date(Date.UTC(2024, 0, 1) + n * 1_000).toISOString(),
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

async function ingest(port: number, count: number, offset: number) {
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < count) {
        const start = next;
        next += 100;
        await post(port, Array.from({ length: Math.min(100, count - start) }, (_, i) => event(offset + start + i)));
      }
    }),
  );
}

async function appliedTotal(prefix: string): Promise<number> {
  const keys = keyspace(prefix, partitions);
  const pipe = redis.pipeline();
  for (let c = 0; c < customers; c++) pipe.scard(keys.applied(`c-${c}`));
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

function startWorkers(count: number, env: Record<string, string>): Subprocess[] {
  return Array.from({ length: count }, () =>
    Bun.spawn([process.execPath, "queues/run.ts"], { env: { ...process.env, ...env }, stdout: "ignore", stderr: "inherit" }),
  );
}

const summariseRss = (series: number[]) => ({ first: Math.round(series[0] ?? NaN), last: Math.round(series.at(-1) ?? NaN), max: Math.round(Math.max(...series)) });

const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

async function scenario(workerCount: number) {
  const prefix = `bench${workerCount}w${Date.now()}`;
  const env = { LIFELINE_DATA_DIR: mkdtempSync(join(tmpdir(), "lifeline-bench-pipeline-")), REDIS_URL: redisServer.url, LIFELINE_KEY_PREFIX: prefix, LIFELINE_WRITE_KEYS: WRITE_KEY, LOG_LEVEL: "warn", HOST: "127.0.0.1", LIFELINE_RATE_LIMIT_EVENTS_PER_SEC: "100000000" };
  const port = await freePort();
  const api = await startHttpProcess("src/api/server.ts", port, env);

  // 1. backlog: N events accepted while no worker runs
  await ingest(port, totalEvents, 0);
  const drainRate = workerCount === 1 ? await rawDrain(prefix) : undefined;

  // 2. throughput: workers drain the backlog into profiles
  const workers = startWorkers(workerCount, env);
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

  // 2b. the rest of the flow (embedding into memory, re-scoring) drains before the steady phase
  const queues = Object.fromEntries(
    [queueNames.embed, queueNames.inference].map((name) => [name, new Queue(name, { connection: redis, prefix: queuePrefix({ LIFELINE_KEY_PREFIX: prefix }, name) })]),
  );
  for (;;) {
    const counts = await Promise.all(Object.values(queues).map((q) => q.getJobCounts("waiting", "active", "delayed", "prioritized")));
    const due = await redis.zcard(keyspace(prefix, partitions).rescoreDue());
    // Delayed jobs are left out: the scheduled refit always has its next run waiting there.
    if (due === 0 && counts.every((c) => (c.waiting ?? 0) + (c.active ?? 0) + (c.prioritized ?? 0) === 0)) break;
    if (performance.now() - t0 > 900_000) throw new Error("embed/inference queues did not drain");
    await Bun.sleep(500);
  }
  const fullDrainSeconds = (performance.now() - t0) / 1000;
  await Promise.all(Object.values(queues).map((q) => q.close()));
  const steadyRss: number[][] = workers.map(() => []);

  // 3. lag at a steady rate: one probe customer per batch, polled until its profile exists
  const keys = keyspace(prefix, partitions);
  const lags: number[] = [];
  const pending = new Map<string, number>();
  let probing = true;
  const poller = (async () => {
    while (probing || pending.size) {
      const ids = [...pending.keys()];
      if (ids.length) {
        const exists = await Promise.all(ids.map((id) => redis.exists(keys.profile(id))));
        const now = performance.now();
        ids.forEach((id, i) => {
          if (exists[i]) {
            lags.push(now - pending.get(id)!);
            pending.delete(id);
          }
        });
      }
      await Bun.sleep(5);
    }
  })();
  const batchesPerSecond = steadyRate / 100;
  const steadyStart = performance.now();
  let n = totalEvents;
  for (let b = 0; b < batchesPerSecond * steadySeconds; b++) {
    const due = steadyStart + (b * 1000) / batchesPerSecond;
    const wait = due - performance.now();
    if (wait > 0) await Bun.sleep(wait);
    const probe = `probe-${workerCount}-${b}`;
    const batch = Array.from({ length: 99 }, () => event(n++));
    batch.push(event(n++, probe));
    void post(port, batch).then(() => pending.set(probe, performance.now()));
    workers.forEach((w, i) => b % batchesPerSecond === 0 && steadyRss[i]!.push(rssMb(w.pid)));
  }
  probing = false;
  await poller;

  for (const w of workers) w.kill("SIGTERM");
  await Promise.all(workers.map((w) => w.exited));
  api.kill();
  return {
    workers: workerCount,
    events: totalEvents,
    streamToProfileEventsPerSec: Math.round(throughput),
    rawDrainEventsPerSec: drainRate && Math.round(drainRate),
    steadyRate,
    lagP50Ms: Math.round(pct(lags, 0.5)),
    lagP99Ms: Math.round(pct(lags, 0.99)),
    lagSamples: lags.length,
    backlogToMemoryEventsPerSec: Math.round(totalEvents / fullDrainSeconds),
    workerRssMbDuringBacklog: rss.map(summariseRss),
    workerRssMbDuringSteadyRate: steadyRss.map(summariseRss),
  };
}

const runs = [await scenario(1), await scenario(2)];
const baseline = runs[0]!.rawDrainEventsPerSec!;
const results = {
  at: new Date().toISOString(),
  baseline: "raw XREADGROUP + XACK drain of the same streams, same run",
  rawDrainEventsPerSec: baseline,
  runs: runs.map((r) => ({ ...r, ratioToRawDrain: +(r.streamToProfileEventsPerSec / baseline).toFixed(3) })),
  targets: { streamToProfileEventsPerSec: 20_000, lagP99MsAt5k: 1_000 },
};
redis.disconnect();
await (redisServer as TestRedis).stop();
mkdirSync("bench/results", { recursive: true });
writeFileSync("bench/results/pipeline.json", JSON.stringify(results, null, 2));
console.log(JSON.stringify(results, null, 2));
