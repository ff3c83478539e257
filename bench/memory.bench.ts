/**
 * Embedded memory store at scale: upsert throughput, per-customer and global search latency,
 * recall of the global search against a JS brute-force baseline (also timed), RSS.
 *   bun bench/memory.bench.ts [--points 200000,1000000] [--customers 20000] [--queries 200]
 * Writes bench/results/memory.json.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEmbeddedStore, type EmbeddedStore } from "../src/memory/embedded-store";
import type { MemoryPoint, MemoryStage } from "../src/memory/memory-store";
import { pointId } from "../src/memory/point-id";
import { TopK } from "../src/memory/top-k";
import { parseCli } from "../src/process/cli";

const { values: args } = parseCli({
  command: "bun run bench:memory",
  description: "Embedded vector memory at scale: upsert rate, per-customer and global search p50/p99, recall@10 of global search vs a brute-force scan; writes bench/results/memory.json.",
  options: {
    points: { type: "string", default: "200000,1000000", description: "store sizes to measure, comma-separated" },
    customers: { type: "string", default: "20000", description: "customers the points belong to" },
    queries: { type: "string", default: "200", description: "search queries per size" },
    "baseline-queries": { type: "string", default: "30", description: "queries for the brute-force baseline" },
    /** Internal: measure a reopen of this data folder in a fresh process (clean RSS). */
    reopen: { type: "string", valueHint: "dir", description: "internal: measure a reopen of this data folder in a fresh process" },
  },
});
const SIZES = args.points.split(",").map(Number).sort((a, b) => a - b);
const CUSTOMERS = Number(args.customers);
const QUERIES = Number(args.queries);
const BASELINE_QUERIES = Math.min(Number(args["baseline-queries"]), QUERIES);
const D = 100;
const CLUSTERS = 500;
const BATCH = 1000;
const TYPES = ["track", "page", "screen", "identify", "group", "alias", "t6", "t7", "t8", "t9"];
const STAGES: MemoryStage[] = ["pre_conversion", "conversion", "post_conversion", "churn_signal"];
const T0 = Date.UTC(2025, 0, 1);

// Deterministic PRNG (mulberry32) so runs are comparable.
let seed = 42;
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function gauss(): number {
  return Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());
}

const centres = Float32Array.from({ length: CLUSTERS * D }, gauss);
const preferred = Int32Array.from({ length: CUSTOMERS * 3 }, () => Math.floor(rand() * CLUSTERS));
// Skewed activity: customer of rank r gets weight (r + 50)^-1.1 (heaviest ≈ 0.4 % of all events).
const cumulative = new Float64Array(CUSTOMERS);
for (let r = 0, acc = 0; r < CUSTOMERS; r++) cumulative[r] = acc += Math.pow(r + 50, -1.1);
const pickCustomer = (): number => {
  const x = rand() * cumulative[CUSTOMERS - 1]!;
  let lo = 0, hi = CUSTOMERS - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cumulative[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

function writeVector(out: Float32Array, offset: number, cluster: number, noise: number): void {
  let norm = 0;
  for (let d = 0; d < D; d++) {
    const x = centres[cluster * D + d]! + noise * gauss();
    out[offset + d] = x;
    norm += x * x;
  }
  const inv = 1 / Math.sqrt(norm);
  for (let d = 0; d < D; d++) out[offset + d]! *= inv;
}

// The bench's own copy, for the brute-force baseline only.
const maxPoints = SIZES[SIZES.length - 1]!;
const all = new Float32Array(args.reopen ? 0 : maxPoints * D);
const customerOf = new Int32Array(args.reopen ? 0 : maxPoints);

function makeBatch(from: number, to: number): MemoryPoint[] {
  const batch: MemoryPoint[] = [];
  for (let i = from; i < to; i++) {
    const c = pickCustomer();
    customerOf[i] = c;
    writeVector(all, i * D, preferred[c * 3 + Math.floor(rand() * 3)]!, 0.6);
    const messageId = `m${i}`;
    batch.push({
      id: pointId(messageId),
      customerId: `cust-${c}`,
      vector: all.subarray(i * D, (i + 1) * D),
      payload: {
        messageId,
        type: TYPES[Math.floor(rand() * TYPES.length)]!,
        event: `Event ${i % 37}`,
        stage: STAGES[Math.floor(rand() * STAGES.length)]!,
        ts: T0 + Math.floor(rand() * 365 * 86_400_000),
        text: `Event ${i % 37} on page ${i % 101}`,
      },
    });
  }
  return batch;
}

function queryVector(): Float32Array {
  const q = new Float32Array(D);
  writeVector(q, 0, Math.floor(rand() * CLUSTERS), 0.7);
  return q;
}

type Latency = { p50: number; p99: number; mean: number };
async function timeIt(n: number, run: (i: number) => Promise<unknown>): Promise<Latency> {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await run(i);
    ms.push(performance.now() - t);
  }
  ms.sort((a, b) => a - b);
  const at = (p: number) => round(ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!);
  return { p50: at(0.5), p99: at(0.99), mean: round(ms.reduce((a, b) => a + b, 0) / ms.length) };
}
const round = (x: number) => Math.round(x * 1000) / 1000;
const rssMb = () => {
  Bun.gc(true);
  return Math.round(process.memoryUsage().rss / 1e6);
};

function bruteForce(q: Float32Array, n: number, k: number): number[] {
  const top = new TopK(k);
  for (let i = 0; i < n; i++) {
    let s = 0;
    const o = i * D;
    for (let d = 0; d < D; d++) s += all[o + d]! * q[d]!;
    top.push(i, s);
  }
  return top.items;
}

async function measure(store: EmbeddedStore, n: number) {
  const queries = Array.from({ length: QUERIES }, queryVector);
  const customers = Array.from({ length: QUERIES }, () => `cust-${Math.floor(rand() * CUSTOMERS)}`);
  const perCustomer = await timeIt(QUERIES, (i) => store.search({ vector: queries[i]!, customerId: customers[i]!, limit: 10 }));
  const heaviest = await timeIt(QUERIES, (i) => store.search({ vector: queries[i]!, customerId: "cust-0", limit: 10 }));
  const perCustomerFiltered = await timeIt(QUERIES, (i) =>
    store.search({ vector: queries[i]!, customerId: "cust-0", types: ["track"], stages: ["churn_signal"], limit: 10 }),
  );
  const global = await timeIt(QUERIES, (i) => store.search({ vector: queries[i]!, limit: 10 }));
  const globalTypeFilter = await timeIt(QUERIES, (i) => store.search({ vector: queries[i]!, types: ["track"], limit: 10 }));
  const since = T0 + 300 * 86_400_000;
  const globalNarrowFilter = await timeIt(QUERIES, (i) =>
    store.search({ vector: queries[i]!, types: ["track"], stages: ["churn_signal"], since, limit: 10 }),
  );
  const searchCustomers = await timeIt(Math.min(QUERIES, 50), (i) => store.searchCustomers({ vector: queries[i]!, limit: 10, perCustomer: 3 }));
  const similarCustomers = await timeIt(Math.min(QUERIES, 50), (i) => store.similarCustomers(customers[i]!, 10));

  let hits = 0;
  const baselineMs: number[] = [];
  for (let i = 0; i < BASELINE_QUERIES; i++) {
    const t = performance.now();
    const exact = bruteForce(queries[i]!, n, 10);
    baselineMs.push(performance.now() - t);
    const got = new Set((await store.search({ vector: queries[i]!, limit: 10 })).map((h) => Number(h.payload.messageId.slice(1))));
    hits += exact.filter((x) => got.has(x)).length;
  }
  baselineMs.sort((a, b) => a - b);
  return {
    points: n,
    perCustomer,
    heaviestCustomer: { points: await store.count("cust-0"), ...heaviest },
    perCustomerFiltered,
    global,
    globalTypeFilter,
    globalNarrowFilter,
    searchCustomers,
    similarCustomers,
    recallAt10VsBruteForce: round(hits / (BASELINE_QUERIES * 10)),
    bruteForceBaselineJs: { p50: round(baselineMs[Math.floor(baselineMs.length / 2)]!), max: round(baselineMs[baselineMs.length - 1]!) },
    rssMbIncludingBenchCopy: rssMb(),
  };
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), "lifeline-memory-bench-"));
  const meta = { modelId: "bench-synthetic", dimensions: D };
  let store = await openEmbeddedStore({ dataDir, ...meta });
  const stages = [];
  let inserted = 0;
  let upsertMs = 0;
  for (const size of SIZES) {
    while (inserted < size) {
      const batch = makeBatch(inserted, Math.min(size, inserted + BATCH));
      const t = performance.now();
      await store.upsert(batch);
      upsertMs += performance.now() - t;
      inserted += batch.length;
    }
    const upsertPointsPerSecond = Math.round(inserted / (upsertMs / 1000));
    console.log(`${inserted} points: upsert ${upsertPointsPerSecond} points/s`);
    const stage = { upsertPointsPerSecond, ...(await measure(store, inserted)) };
    console.log(JSON.stringify(stage, null, 1));
    stages.push(stage);
  }

  // Redelivery: the same 10k points again (at-least-once delivery) must not duplicate.
  const before = await store.count();
  const again = makeBatch(0, 10_000).map((p, i) => ({ ...p, id: pointId(`m${i}`), payload: { ...p.payload, messageId: `m${i}` } }));
  let t = performance.now();
  for (let i = 0; i < again.length; i += BATCH) await store.upsert(again.slice(i, i + BATCH));
  const redeliveryPointsPerSecond = Math.round(again.length / ((performance.now() - t) / 1000));
  const countAfterRedelivery = await store.count();

  await store.close();
  const child = Bun.spawnSync([process.execPath, import.meta.path, "--reopen", dataDir, "--queries", String(QUERIES)], { stderr: "inherit" });
  const reopen = JSON.parse(child.stdout.toString());
  rmSync(dataDir, { recursive: true, force: true });

  const result = {
    date: new Date().toISOString(),
    machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version },
    workload: { dimensions: D, customers: CUSTOMERS, clusters: CLUSTERS, batch: BATCH, queries: QUERIES },
    globalIndex: "exact native SIMD scan (usearch exactSearch, 1 thread) over 16k-row Float32Array chunks, top-k merged in JS",
    stages,
    redelivery: { points: again.length, pointsPerSecond: redeliveryPointsPerSecond, countBefore: before, countAfter: countAfterRedelivery },
    reopenInFreshProcess: reopen,
  };
  console.log(JSON.stringify({ redelivery: result.redelivery, reopenInFreshProcess: reopen }, null, 1));
  mkdirSync(join(import.meta.dir, "results"), { recursive: true });
  writeFileSync(join(import.meta.dir, "results", "memory.json"), JSON.stringify(result, null, 2) + "\n");
}

async function measureReopen(dataDir: string) {
  const t = performance.now();
  const store = await openEmbeddedStore({ dataDir, modelId: "bench-synthetic", dimensions: D });
  const openMs = Math.round(performance.now() - t);
  const global = await timeIt(QUERIES, () => store.search({ vector: queryVector(), limit: 10 }));
  const perCustomer = await timeIt(QUERIES, () =>
    store.search({ vector: queryVector(), customerId: `cust-${Math.floor(rand() * CUSTOMERS)}`, limit: 10 }),
  );
  const result = { points: await store.count(), openMs, rssMb: rssMb(), global, perCustomer };
  await store.close();
  console.log(JSON.stringify(result));
}

if (args.reopen) await measureReopen(args.reopen);
else await main();
