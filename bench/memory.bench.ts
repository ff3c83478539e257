/**
 * Embedded memory store at scale, per process: the writer (upserts, then searches), a fresh
 * reader process (open time, searches) and a second reader beside it, each with its RSS
 * (anonymous = private, file = shared mapped pages) against the same process's RSS before
 * opening the memory. Same-run baselines: a bare SQLite insert of the same rows (upsert),
 * a JS brute-force scan (global search, and the exact answers recall@10 is measured against).
 * Records the machine's load before and after, since the machine is shared.
 *   bun bench/memory.bench.ts [--points 200000,1000000] [--customers 20000] [--queries 200]
 * Writes bench/results/memory.json.
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
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
    /** Internal: measure a reader process on this data folder (fresh RSS, open time). */
    reader: { type: "string", valueHint: "dir", description: "internal: measure a reader process on this data folder" },
    /** Internal: how many points the reader should see. */
    expect: { type: "string", description: "internal: how many points the reader should see" },
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
const all = new Float32Array(args.reader ? 0 : maxPoints * D);
const customerOf = new Int32Array(args.reader ? 0 : maxPoints);

/** Points [from, to); their vectors go into the bench's copy (`all`) unless `scratch` is given. */
function makeBatch(from: number, to: number, scratch?: Float32Array): MemoryPoint[] {
  const batch: MemoryPoint[] = [];
  for (let i = from; i < to; i++) {
    const c = pickCustomer();
    if (!scratch) customerOf[i] = c;
    const target = scratch ?? all;
    const at = scratch ? (i - from) * D : i * D;
    writeVector(target, at, preferred[c * 3 + Math.floor(rand() * 3)]!, 0.6);
    const messageId = `m${i}`;
    batch.push({
      id: pointId(messageId),
      customerId: `cust-${c}`,
      vector: target.subarray(at, at + D),
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

/** VmRSS split into private (anonymous) and shared file-backed pages, MB. */
function memory(): { rssMb: number; anonMb: number; fileMb: number } {
  Bun.gc(true);
  const status = readFileSync("/proc/self/status", "utf8");
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
  return { rssMb: Math.round(kb("VmRSS") / 1024), anonMb: Math.round(kb("RssAnon") / 1024), fileMb: Math.round(kb("RssFile") / 1024) };
}
const beyond = (now: ReturnType<typeof memory>, base: ReturnType<typeof memory>) => ({
  rssMb: now.rssMb - base.rssMb,
  anonMb: now.anonMb - base.anonMb,
  fileMb: now.fileMb - base.fileMb,
});
const load = () => {
  const [one, five] = readFileSync("/proc/loadavg", "utf8").split(" ").map(Number);
  return { loadAvg1m: one!, loadAvg5m: five!, cpus: navigator.hardwareConcurrency };
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

/** The searches every process runs (queries from the shared seed, so processes answer the same ones). */
async function searches(store: EmbeddedStore) {
  const queries = Array.from({ length: QUERIES }, queryVector);
  const customers = Array.from({ length: QUERIES }, () => `cust-${Math.floor(rand() * CUSTOMERS)}`);
  const since = T0 + 300 * 86_400_000;
  return {
    queries,
    perCustomer: await timeIt(QUERIES, (i) => store.search({ vector: queries[i]!, customerId: customers[i]!, limit: 10 })),
    perCustomerHybrid: await timeIt(QUERIES, (i) => store.search({ vector: queries[i]!, text: `page ${i % 101}`, mode: "hybrid", customerId: customers[i]!, limit: 10 })),
    heaviestCustomer: { points: await store.count("cust-0"), ...(await timeIt(QUERIES, (i) => store.search({ vector: queries[i]!, customerId: "cust-0", limit: 10 }))) },
    perCustomerFiltered: await timeIt(QUERIES, (i) =>
      store.search({ vector: queries[i]!, customerId: "cust-0", types: ["track"], stages: ["churn_signal"], limit: 10 }),
    ),
    listNewestFirst: await timeIt(QUERIES, (i) => store.list({ customerId: customers[i]!, limit: 10 })),
    global: await timeIt(QUERIES, (i) => store.search({ vector: queries[i]!, limit: 10 })),
    globalHybrid: await timeIt(Math.min(QUERIES, 50), (i) => store.search({ vector: queries[i]!, text: `page ${i % 101}`, mode: "hybrid", limit: 10 })),
    globalTypeFilter: await timeIt(QUERIES, (i) => store.search({ vector: queries[i]!, types: ["track"], limit: 10 })),
    globalNarrowFilter: await timeIt(QUERIES, (i) => store.search({ vector: queries[i]!, types: ["track"], stages: ["churn_signal"], since, limit: 10 })),
    searchCustomers: await timeIt(Math.min(QUERIES, 50), (i) => store.searchCustomers({ vector: queries[i]!, limit: 10, perCustomer: 3 })),
    similarCustomers: await timeIt(Math.min(QUERIES, 50), (i) => store.similarCustomers(customers[i]!, 10)),
  };
}

async function measureWriter(store: EmbeddedStore, n: number) {
  seed = 1_000_000 + n; // the readers replay this seed, so they answer the same queries
  const { queries, ...latency } = await searches(store);
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
  const bruteForceJs = { p50: round(baselineMs[Math.floor(baselineMs.length / 2)]!), max: round(baselineMs[baselineMs.length - 1]!) };
  return {
    ...latency,
    recallAt10VsBruteForce: round(hits / (BASELINE_QUERIES * 10)),
    bruteForceBaselineJs: bruteForceJs,
    globalP50VsBruteForce: round(latency.global.p50 / bruteForceJs.p50),
  };
}

/** Same-run upsert baseline: the same rows into a bare SQLite table (no index, no keyword index, no codes). */
async function bareSqliteInsert(dir: string, n: number): Promise<number> {
  const db = new Database(join(dir, "bare.sqlite"), { create: true, strict: true });
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
  db.exec("CREATE TABLE points (seq INTEGER PRIMARY KEY AUTOINCREMENT, id BLOB UNIQUE, customer_id TEXT, message_id TEXT, type TEXT, event TEXT, stage TEXT, ts REAL, text TEXT, vector BLOB)");
  const insert = db.query("INSERT INTO points (id, customer_id, message_id, type, event, stage, ts, text, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
  const saved = seed;
  seed = 7;
  let ms = 0;
  for (let i = 0; i < n; i += BATCH) {
    const batch = makeBatch(i, Math.min(n, i + BATCH), new Float32Array(BATCH * D));
    const t = performance.now();
    db.transaction(() => {
      for (const p of batch) {
        const v = p.vector;
        insert.run(Buffer.from(p.id.replace(/-/g, ""), "hex"), p.customerId, p.payload.messageId, p.payload.type, p.payload.event, p.payload.stage, p.payload.ts, p.payload.text, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      }
    }).immediate();
    ms += performance.now() - t;
  }
  seed = saved;
  db.close();
  rmSync(join(dir, "bare.sqlite"), { force: true });
  return Math.round(n / (ms / 1000));
}

function spawnReader(dataDir: string, points: number) {
  return Bun.spawn([process.execPath, import.meta.path, "--reader", dataDir, "--expect", String(points), "--queries", String(QUERIES), "--customers", String(CUSTOMERS)], {
    stdout: "pipe",
    stderr: "inherit",
  });
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), "lifeline-memory-bench-"));
  const loadBefore = load();
  const writerBase = memory();
  const meta = { modelId: "bench-synthetic", dimensions: D };
  const store = await openEmbeddedStore({ dataDir, ...meta });
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
    const bare = await bareSqliteInsert(dataDir, Math.min(inserted, 100_000));
    console.log(`${inserted} points: upsert ${upsertPointsPerSecond} points/s (bare SQLite insert ${bare} points/s)`);
    const writer = await measureWriter(store, inserted);
    const writerMemory = { base: writerBase, now: memory(), note: "includes the bench's own Float32 copy of every vector for the brute-force baseline" };
    // Two readers at once, as the API and a second worker would be.
    const readers = [spawnReader(dataDir, inserted), spawnReader(dataDir, inserted)];
    const readerResults = await Promise.all(readers.map(async (r) => JSON.parse(await new Response(r.stdout).text())));
    const stage = {
      points: inserted,
      upsert: { pointsPerSecond: upsertPointsPerSecond, bareSqliteInsertPointsPerSecond: bare, ratioVsBare: round(upsertPointsPerSecond / bare) },
      writer: { ...writer, memory: writerMemory },
      readers: readerResults,
    };
    console.log(JSON.stringify(stage, null, 1));
    stages.push(stage);
  }

  // Redelivery: the same 10k points again (at-least-once delivery) must not duplicate.
  const before = await store.count();
  seed = 42;
  const again = makeBatch(0, 10_000, new Float32Array(10_000 * D));
  const t = performance.now();
  for (let i = 0; i < again.length; i += BATCH) await store.upsert(again.slice(i, i + BATCH));
  const redeliveryPointsPerSecond = Math.round(again.length / ((performance.now() - t) / 1000));
  const countAfterRedelivery = await store.count();
  const erasureStart = performance.now();
  const erased = await store.deleteCustomer("cust-1");
  const erasureMs = Math.round(performance.now() - erasureStart);
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });

  const result = {
    date: new Date().toISOString(),
    machine: { cpus: navigator.hardwareConcurrency, bun: Bun.version, loadBefore, loadAfter: load() },
    workload: { dimensions: D, customers: CUSTOMERS, clusters: CLUSTERS, batch: BATCH, queries: QUERIES },
    design:
      "per-customer: exact scan of the customer's SQLite rows; global: shared memory-mapped Int8 codes, native SIMD inner-product scan (usearch exactSearch, 1 thread), best 4k+20 rescored exactly from SQLite; keyword: FTS5 + BM25",
    stages,
    redelivery: { points: again.length, pointsPerSecond: redeliveryPointsPerSecond, countBefore: before, countAfter: countAfterRedelivery },
    erasure: { points: erased, ms: erasureMs },
  };
  console.log(JSON.stringify({ machine: result.machine, redelivery: result.redelivery, erasure: result.erasure }, null, 1));
  mkdirSync(join(import.meta.dir, "results"), { recursive: true });
  writeFileSync(join(import.meta.dir, "results", "memory.json"), JSON.stringify(result, null, 2) + "\n");
}

async function measureReader(dataDir: string, expected: number) {
  const base = memory();
  const t = performance.now();
  const store = await openEmbeddedStore({ dataDir, modelId: "bench-synthetic", dimensions: D });
  const openMs = round(performance.now() - t);
  const afterOpen = memory();
  const first = performance.now();
  await store.search({ vector: queryVector(), limit: 10 });
  const firstGlobalMs = round(performance.now() - first);
  seed = 1_000_000 + expected;
  const { queries: _, ...latency } = await searches(store);
  const result = {
    pid: process.pid,
    points: await store.count(),
    openMs,
    firstGlobalSearchMs: firstGlobalMs,
    memory: { base, afterOpen: beyond(afterOpen, base), afterSearches: beyond(memory(), base) },
    ...latency,
  };
  await store.close();
  console.log(JSON.stringify(result));
}

if (args.reader) await measureReader(args.reader, Number(args.expect));
else await main();
