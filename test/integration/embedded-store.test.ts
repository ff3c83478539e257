import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EmbeddedStore, openEmbeddedStore } from "../../src/memory/embedded-store";
import { pointId, uuidToBytes } from "../../src/memory/point-id";
import { CONTRACT_META, memoryStoreContract } from "./memory-store.contract";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

let dataDir = "";
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "lifeline-memory-"));
});
afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

memoryStoreContract("embedded", (meta = CONTRACT_META) => openEmbeddedStore({ dataDir, ...meta }), {
  customerVector: (store, customerId) => (store as EmbeddedStore).customerVector(customerId),
});

describe("a memory written by the previous layout (schema 2)", () => {
  test("is migrated on open: terms, keyword index, customer vectors and the codes files are derived from its points", async () => {
    const dir = join(dataDir, "memory");
    mkdirSync(dir, { recursive: true });
    const db = new Database(join(dir, "memory.sqlite"), { create: true });
    db.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE points (seq INTEGER PRIMARY KEY AUTOINCREMENT, id BLOB NOT NULL UNIQUE, customer_id TEXT NOT NULL, message_id TEXT NOT NULL,
        type TEXT NOT NULL, event TEXT NOT NULL, stage TEXT NOT NULL, ts REAL NOT NULL, text TEXT NOT NULL, vector BLOB NOT NULL);
      CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, after_point INTEGER NOT NULL, op TEXT NOT NULL, point INTEGER, customer_id TEXT, to_id TEXT, at REAL NOT NULL);
      INSERT INTO meta VALUES ('schema', '2'), ('modelId', '${CONTRACT_META.modelId}'), ('dimensions', '${CONTRACT_META.dimensions}');
    `);
    const insert = db.query("INSERT INTO points (id, customer_id, message_id, type, event, stage, ts, text, vector) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    const rows = [
      { c: "ann", m: "m1", axis: 0, text: "Complaint Submitted — text: the parcel arrived late" },
      { c: "ann", m: "m2", axis: 1, text: "Order Completed — Mug" },
      { c: "bob", m: "m3", axis: 0, text: "Product Viewed — Tent" },
    ];
    for (const r of rows) {
      const v = new Float32Array(CONTRACT_META.dimensions);
      v[r.axis] = 1;
      insert.run(uuidToBytes(pointId(r.m)), r.c, r.m, "track", "E", "post_conversion", 1_700_000_000_000, r.text, new Uint8Array(v.buffer));
    }
    db.close();

    const store = await openEmbeddedStore({ dataDir, ...CONTRACT_META });
    try {
      const axis0 = new Float32Array(CONTRACT_META.dimensions);
      axis0[0] = 1;
      expect(await store.count()).toBe(3);
      expect((await store.search({ vector: axis0, limit: 2 })).map((h) => h.payload.messageId).sort()).toEqual(["m1", "m3"]);
      expect((await store.search({ text: "late parcels", mode: "keyword", limit: 5 })).map((h) => h.payload.messageId)).toEqual(["m1"]);
      expect((await store.search({ vector: axis0, text: "late", mode: "hybrid", customerId: "ann", limit: 1 }))[0]!.payload.messageId).toBe("m1");
      expect((await store.similarCustomers("bob", 1)).map((s) => s.customerId)).toEqual(["ann"]);
    } finally {
      await store.close();
    }
  });
});
