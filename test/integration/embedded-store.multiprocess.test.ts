import { afterEach, beforeEach, expect, test, setDefaultTimeout } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { openEmbeddedStore, type EmbeddedStore } from "../../src/memory/embedded-store";
import type { MemoryPoint } from "../../src/memory/memory-store";
import { pointId } from "../../src/memory/point-id";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

// A second OS process on the same data folder, driven one JSON command per line.
const CHILD = `
  import { openEmbeddedStore } from ${JSON.stringify(resolve(import.meta.dir, "../../src/memory/embedded-store.ts"))};
  const store = await openEmbeddedStore({ dataDir: process.env.MP_DATA_DIR, modelId: "mp-test", dimensions: 4 });
  console.log(JSON.stringify({ ready: true }));
  for await (const line of console) {
    const cmd = JSON.parse(line);
    let result = null;
    if (cmd.op === "upsert") await store.upsert(cmd.points.map((p) => ({ ...p, vector: Float32Array.from(p.vector) })));
    if (cmd.op === "reassign") await store.reassignCustomer(cmd.from, cmd.to);
    if (cmd.op === "delete") result = await store.deleteCustomer(cmd.customerId);
    if (cmd.op === "search") result = (await store.search({ vector: Float32Array.from(cmd.vector), customerId: cmd.customerId, limit: 10 })).map((h) => [h.customerId, h.payload.text]);
    if (cmd.op === "close") { await store.close(); console.log(JSON.stringify({ result })); process.exit(0); }
    console.log(JSON.stringify({ result }));
  }
`;

type Child = { send(cmd: object): Promise<unknown>; proc: ReturnType<typeof Bun.spawn> };

function spawnChild(dataDir: string): Promise<Child> {
  const proc = Bun.spawn([process.execPath, "-e", CHILD], { env: { ...process.env, MP_DATA_DIR: dataDir }, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const lines = (async function* () {
    let buffered = "";
    for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
      buffered += new TextDecoder().decode(chunk);
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        yield JSON.parse(buffered.slice(0, nl)) as { ready?: boolean; result?: unknown };
        buffered = buffered.slice(nl + 1);
      }
    }
  })();
  const next = async () => (await lines.next()).value;
  const child: Child = {
    proc,
    async send(cmd) {
      proc.stdin!.write(JSON.stringify(cmd) + "\n");
      proc.stdin!.flush();
      return (await next())?.result;
    },
  };
  return next().then(() => child);
}

const axis = (i: number) => Array.from({ length: 4 }, (_, d) => (d === i ? 1 : 0));
const point = (customerId: string, i: number, text: string) => {
  const messageId = `${customerId}-${text}`;
  return { id: pointId(messageId), customerId, vector: axis(i), payload: { messageId, type: "track", event: "E", stage: "pre_conversion", ts: 1, text } };
};
const asPoint = (p: ReturnType<typeof point>): MemoryPoint => ({ ...p, vector: Float32Array.from(p.vector), payload: { ...p.payload, stage: "pre_conversion" } });

let dataDir = "";
let store: EmbeddedStore;
let child: Child;
beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "lifeline-memory-mp-"));
  store = await openEmbeddedStore({ dataDir, modelId: "mp-test", dimensions: 4 });
  child = await spawnChild(dataDir);
});
afterEach(async () => {
  await child.send({ op: "close" }).catch(() => undefined);
  child.proc.kill();
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test("another process's upserts, reassignment and erasure are visible to this process's next search", async () => {
  await child.send({ op: "upsert", points: [point("anon", 0, "viewed"), point("cust", 1, "bought"), point("gone", 0, "secret")] });
  expect((await store.search({ vector: new Float32Array(axis(0)), limit: 2 })).map((h) => h.payload.text).sort()).toEqual(["secret", "viewed"]);

  await child.send({ op: "reassign", from: "anon", to: "cust" });
  expect((await store.search({ vector: new Float32Array(axis(0)), customerId: "cust", limit: 10 })).map((h) => h.payload.text)).toEqual(["viewed", "bought"]);
  expect(await store.count("anon")).toBe(0);

  expect(await child.send({ op: "delete", customerId: "gone" })).toBe(1);
  const all = await store.search({ vector: new Float32Array(axis(0)), limit: 10 });
  expect(all.map((h) => h.payload.text)).not.toContain("secret");
  expect(await store.count("gone")).toBe(0);
  expect(await store.similarCustomers("gone", 3)).toEqual([]);
});

test("this process's writes are visible to the other process, and an idle process catches up within 100 ms", async () => {
  await store.upsert([asPoint(point("mine", 2, "from parent"))]);
  expect(await child.send({ op: "search", vector: axis(2) })).toEqual([["mine", "from parent"]]);
  await store.deleteCustomer("mine");
  expect(await child.send({ op: "search", vector: axis(2) })).toEqual([]);

  await child.send({ op: "upsert", points: [point("theirs", 3, "from child")] });
  await Bun.sleep(100);
  // count() with no customer reads the in-memory slab: the background tail has applied it already.
  expect(await store.count("theirs")).toBe(1);
});

test("two processes upserting at once lose no write", async () => {
  const childPoints = Array.from({ length: 200 }, (_, i) => point(`c-${i % 7}`, i % 4, `child ${i}`));
  const parentPoints = Array.from({ length: 200 }, (_, i) => asPoint(point(`p-${i % 7}`, i % 4, `parent ${i}`)));
  await Promise.all([
    (async () => {
      for (let i = 0; i < childPoints.length; i += 10) await child.send({ op: "upsert", points: childPoints.slice(i, i + 10) });
    })(),
    (async () => {
      for (let i = 0; i < parentPoints.length; i += 10) {
        await store.upsert(parentPoints.slice(i, i + 10));
        await Bun.sleep(1);
      }
    })(),
  ]);
  expect(await store.count()).toBe(400);
  expect((await child.send({ op: "search", vector: axis(1), customerId: "p-3" }) as unknown[]).length).toBeGreaterThan(0);
});

test("a point written by another process is found by this process's global, per-customer and keyword searches within 1 s", async () => {
  // Open and search first, so this process has mapped the codes before the other one writes.
  expect(await store.search({ vector: new Float32Array(axis(3)), limit: 5 })).toEqual([]);
  await child.send({ op: "upsert", points: [point("fresh", 3, "brand new parcel complaint")] });
  const started = performance.now();
  const found = async () => {
    const global = await store.search({ vector: new Float32Array(axis(3)), limit: 5 });
    const own = await store.search({ vector: new Float32Array(axis(3)), customerId: "fresh", limit: 5 });
    const words = await store.search({ text: "parcel", mode: "keyword", limit: 5 });
    return [global, own, words].every((hits) => hits.length === 1 && hits[0]!.payload.text === "brand new parcel complaint");
  };
  while (!(await found()) && performance.now() - started < 1000) await Bun.sleep(10);
  expect(await found()).toBe(true);
  expect(performance.now() - started).toBeLessThan(1000);
});
