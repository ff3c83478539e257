import { afterEach, beforeEach, expect, test, setDefaultTimeout } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Embedder } from "../../src/embeddings/embedder";
import { MemoryMismatchError } from "../../src/errors/memory-mismatch-error";
import { openEmbeddedStore } from "../../src/memory/embedded-store";
import type { MemoryPoint } from "../../src/memory/memory-store";
import { pointId } from "../../src/memory/point-id";
import { reembedEmbedded, type ReembedProgress } from "../../src/memory/reembed-embedded";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

/** A real (if tiny) embedder: each text maps to a fixed unit vector derived from its hash. */
function hashEmbedder(modelId: string, dimensions: number): Embedder & { calls: number } {
  const embedder = {
    modelId,
    dimensions,
    calls: 0,
    async embed(texts: string[]) {
      embedder.calls++;
      return texts.map((text) => {
        const bytes = createHash("sha256").update(`${modelId}:${text}`).digest();
        const v = Float32Array.from({ length: dimensions }, (_, i) => bytes[i % bytes.length]! - 127.5);
        const norm = Math.hypot(...v);
        return v.map((x) => x / norm);
      });
    },
  };
  return embedder;
}

const oldModel = hashEmbedder("old-model", 6);
const newModel = hashEmbedder("new-model", 10);

async function pointsFor(embedder: Embedder, customerId: string, texts: string[]): Promise<MemoryPoint[]> {
  const vectors = await embedder.embed(texts);
  return texts.map((text, i) => {
    const messageId = `${customerId}:${text}`;
    return { id: pointId(messageId), customerId, vector: vectors[i]!, payload: { messageId, type: "track", event: "E", stage: "pre_conversion", ts: 1000 + i, text } };
  });
}

const texts = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} event ${i}`);

let dataDir = "";
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "lifeline-reembed-"));
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

async function seedOldMemory() {
  const store = await openEmbeddedStore({ dataDir, ...meta(oldModel) });
  await store.upsert([...(await pointsFor(oldModel, "alice", texts("alice", 20))), ...(await pointsFor(oldModel, "bob", texts("bob", 20)))]);
  await store.upsert(await pointsFor(oldModel, "anon-1", texts("anon", 5)));
  return store;
}
const meta = (e: Embedder) => ({ modelId: e.modelId, dimensions: e.dimensions });

test("reembed rebuilds the memory with the new model from the stored texts and switches to it", async () => {
  const old = await seedOldMemory();
  await old.close();
  const progress: ReembedProgress[] = [];
  const result = await reembedEmbedded({ dataDir, embedder: newModel, batchSize: 8, onProgress: (p) => progress.push(p) });
  expect(result).toMatchObject({ outcome: "switched", points: 45, from: meta(oldModel), to: meta(newModel) });
  expect(progress.at(-1)).toEqual({ done: 45, total: 45, phase: "done" });

  expect(openEmbeddedStore({ dataDir, ...meta(oldModel) })).rejects.toBeInstanceOf(MemoryMismatchError);
  const store = await openEmbeddedStore({ dataDir, ...meta(newModel) });
  expect(await store.count()).toBe(45);
  const [query] = await newModel.embed(["bob event 7"]);
  const hits = await store.search({ vector: query!, limit: 1 });
  expect(hits[0]).toMatchObject({ id: pointId("bob:bob event 7"), customerId: "bob", score: expect.closeTo(1, 5) });
  expect((await store.similarCustomers("alice", 5)).map((s) => s.customerId).sort()).toEqual(["anon-1", "bob"]);
  await store.close();
  // Only the new memory (and its pointer) is left: the old file and its WAL are gone.
  expect(readdirSync(join(dataDir, "memory")).filter((f) => f.startsWith("memory.sqlite"))).toEqual([]);
});

test("reembed drops the lifecycle stage that texts rendered before issue 16 began with, and the codes files move with the memory", async () => {
  const old = await openEmbeddedStore({ dataDir, ...meta(oldModel) });
  await old.upsert(await pointsFor(oldModel, "carol", ["churn_signal: Complaint Submitted — text: my parcel arrived late", "Order Completed — Mug"]));
  await old.close();
  const result = await reembedEmbedded({ dataDir, embedder: newModel });
  expect(result.outcome).toBe("switched");
  const store = await openEmbeddedStore({ dataDir, ...meta(newModel) });
  const listed = await store.list({ customerId: "carol", limit: 10 });
  expect(listed.map((e) => e.payload.text).sort()).toEqual(["Complaint Submitted — text: my parcel arrived late", "Order Completed — Mug"]);
  const [query] = await newModel.embed(["Order Completed — Mug"]);
  expect((await store.search({ vector: query!, limit: 1 }))[0]!.payload.text).toBe("Order Completed — Mug");
  await store.close();
  const file = (result as { file: string }).file;
  expect(readdirSync(join(dataDir, "memory")).filter((f) => f.startsWith(file)).sort()).toEqual([file, `${file}.codes`, `${file}.meta`]);
});

test("an interrupted reembed resumes from its checkpoint and replays erasure and stitching done meanwhile", async () => {
  const old = await seedOldMemory();
  const controller = new AbortController();
  const first = await reembedEmbedded({
    dataDir,
    embedder: newModel,
    batchSize: 8,
    signal: controller.signal,
    onProgress: ({ done }) => done >= 16 && controller.abort(),
  });
  expect(first).toEqual({ outcome: "interrupted", points: 16 });
  expect(existsSync(join(dataDir, "memory", "memory.next.sqlite"))).toBe(true);

  // The old memory keeps serving (and being written) while the rebuild is paused.
  expect(await old.deleteCustomer("alice")).toBe(20);
  await old.reassignCustomer("anon-1", "bob");
  await old.upsert(await pointsFor(oldModel, "carol", texts("carol", 3)));

  const callsBefore = newModel.calls;
  const second = await reembedEmbedded({ dataDir, embedder: newModel, batchSize: 8 });
  expect(second).toMatchObject({ outcome: "switched", resumedAt: 16 });
  // Resumed, not restarted: 48 points left of which only the unseen ones are embedded.
  expect(newModel.calls - callsBefore).toBeLessThanOrEqual(Math.ceil((45 + 3 - 16) / 8) + 1);

  // The old handle sees the switch and refuses to go on with a stale memory.
  await Bun.sleep(120);
  expect(old.count()).rejects.toBeInstanceOf(MemoryMismatchError);
  await old.close().catch(() => undefined);

  const store = await openEmbeddedStore({ dataDir, ...meta(newModel) });
  expect(await store.count("alice")).toBe(0);
  const [aliceQuery] = await newModel.embed(["alice event 3"]);
  expect((await store.search({ vector: aliceQuery!, limit: 48 })).some((h) => h.customerId === "alice")).toBe(false);
  expect(await store.count("anon-1")).toBe(0);
  expect(await store.count("bob")).toBe(25);
  expect(await store.count("carol")).toBe(3);
  expect(await store.count()).toBe(28);
  await store.close();
});

test("reembed with the model the memory already has does nothing", async () => {
  const old = await seedOldMemory();
  await old.close();
  expect(await reembedEmbedded({ dataDir, embedder: oldModel })).toEqual({ outcome: "up-to-date", meta: meta(oldModel) });
});
