import { Database, type SQLQueryBindings, type Statement } from "bun:sqlite";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { MemoryMismatchError } from "../errors/memory-mismatch-error";
import { normalised } from "./customer-vector";
import {
  DEFAULT_HALF_LIFE_MS,
  mismatchMessage,
  type CustomerHit,
  type CustomerSearch,
  type CustomerVectorOptions,
  type MemoryHit,
  type MemoryMeta,
  type MemoryPoint,
  type MemorySearch,
  type MemoryStage,
  type MemoryStore,
  type SimilarCustomer,
} from "./memory-store";
import { VectorSlab, type SlotHit } from "./vector-slab";

export type EmbeddedStoreOptions = CustomerVectorOptions & {
  /** Lifeline's data folder; the memory lives in `<dataDir>/memory/memory.sqlite`. */
  dataDir: string;
  modelId: string;
  dimensions: number;
};

type PayloadRow = {
  seq: number;
  id: string;
  customer_id: string;
  message_id: string;
  type: string;
  event: string;
  stage: MemoryStage;
  ts: number;
  text: string;
};
type VectorRow = { seq: number; customer_id: string; type: string; stage: MemoryStage; ts: number; vector: Uint8Array };

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS points (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    event TEXT NOT NULL,
    stage TEXT NOT NULL,
    ts REAL NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
  );
  CREATE INDEX IF NOT EXISTS points_customer_id ON points (customer_id);
`;

const UPSERT = `
  INSERT INTO points (id, customer_id, message_id, type, event, stage, ts, text, vector)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
  ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, message_id = excluded.message_id,
    type = excluded.type, event = excluded.event, stage = excluded.stage, ts = excluded.ts,
    text = excluded.text, vector = excluded.vector
  RETURNING seq`;

const LOAD_PAGE_ROWS = 20_000;

/**
 * The no-server memory: SQLite (WAL) is the durable, idempotent record; an in-memory slab
 * built from it at open answers every search exactly (see vector-slab.ts).
 */
export class EmbeddedStore implements MemoryStore {
  readonly meta: MemoryMeta;
  readonly path: string;
  private db?: Database;
  private slab: VectorSlab;
  private upsertStatement?: Statement<{ seq: number }, SQLQueryBindings[]>;

  constructor(private readonly options: EmbeddedStoreOptions) {
    this.meta = { modelId: options.modelId, dimensions: options.dimensions };
    this.path = join(options.dataDir, "memory", "memory.sqlite");
    this.slab = new VectorSlab(options.dimensions, options.halfLifeMs ?? DEFAULT_HALF_LIFE_MS);
  }

  async init(): Promise<void> {
    if (this.db) return;
    mkdirSync(join(this.options.dataDir, "memory"), { recursive: true });
    const db = new Database(this.path, { create: true, strict: true });
    try {
      // Random uuid keys touch the whole id index on every insert: a 64 MB page cache and rarer
      // checkpoints (64 MB of WAL) let repeated writes to the same pages coalesce.
      db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA secure_delete = ON; PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 16384;");
      db.exec(SCHEMA);
      this.checkMeta(db);
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
    this.upsertStatement = db.query<{ seq: number }, SQLQueryBindings[]>(UPSERT);
    this.load(db);
  }

  async upsert(points: MemoryPoint[]): Promise<void> {
    const db = this.open();
    for (const point of points) this.checkDimensions(point.vector);
    const unit = points.map((p) => normalised(p.vector));
    const seqs = db.transaction(() =>
      points.map((p, i) => {
        const v = unit[i]!;
        const row = this.upsertStatement!.get(
          p.id, p.customerId, p.payload.messageId, p.payload.type, p.payload.event, p.payload.stage, p.payload.ts,
          p.payload.text, new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
        );
        return row!.seq;
      }),
    )();
    points.forEach((p, i) => this.slab.put(seqs[i]!, p.customerId, p.payload.type, p.payload.stage, p.payload.ts, unit[i]!));
  }

  async search(query: MemorySearch): Promise<MemoryHit[]> {
    this.open();
    this.checkDimensions(query.vector);
    const q = normalised(query.vector);
    const hits =
      query.customerId === undefined
        ? this.slab.searchGlobal(q, query, query.limit)
        : this.slab.searchCustomer(query.customerId, q, query, query.limit);
    return this.withPayloads(hits);
  }

  async searchCustomers(query: CustomerSearch): Promise<CustomerHit[]> {
    this.open();
    this.checkDimensions(query.vector);
    const q = normalised(query.vector);
    // Any customer outside the top-N events scores below all of them, so the first `limit`
    // distinct customers in the top-N are exactly the best customers.
    let wanted = query.limit * query.perCustomer * 4;
    let ranked: { customerId: string; score: number }[];
    for (;;) {
      const hits = this.slab.searchGlobal(q, query, wanted);
      ranked = distinctCustomers(hits.map((h) => ({ customerId: this.slab.customerIdOf(h.slot), score: h.score })));
      if (ranked.length >= query.limit || hits.length < wanted) break;
      wanted *= 4;
    }
    return ranked.slice(0, query.limit).map(({ customerId, score }) => ({
      customerId,
      score,
      events: this.withPayloads(this.slab.searchCustomer(customerId, q, query, query.perCustomer)),
    }));
  }

  async similarCustomers(customerId: string, k: number): Promise<SimilarCustomer[]> {
    this.open();
    return this.slab.similarCustomers(customerId, k);
  }

  async reassignCustomer(fromId: string, toId: string): Promise<void> {
    const db = this.open();
    if (fromId === toId) return;
    db.query("UPDATE points SET customer_id = ? WHERE customer_id = ?").run(toId, fromId);
    this.slab.reassign(fromId, toId);
  }

  async deleteCustomer(customerId: string): Promise<number> {
    const db = this.open();
    const removed = db.query("DELETE FROM points WHERE customer_id = ?").run(customerId).changes;
    this.slab.removeCustomer(customerId);
    // Erasure: secure_delete zeroes freed pages; the checkpoint drops the old pages from the WAL.
    db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return removed;
  }

  async count(customerId?: string): Promise<number> {
    this.open();
    return this.slab.countOf(customerId);
  }

  async close(): Promise<void> {
    if (!this.db) return;
    this.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    this.db.close();
    this.db = undefined;
    this.slab = new VectorSlab(this.meta.dimensions, this.options.halfLifeMs ?? DEFAULT_HALF_LIFE_MS);
  }

  private open(): Database {
    if (!this.db) throw new Error("EmbeddedStore used before init() or after close()");
    return this.db;
  }

  private checkMeta(db: Database): void {
    const read = (key: string) => db.query<{ value: string }, [string]>("SELECT value FROM meta WHERE key = ?").get(key)?.value;
    const modelId = read("modelId");
    const dimensions = read("dimensions");
    if (modelId === undefined || dimensions === undefined) {
      const write = db.query("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
      db.transaction(() => {
        write.run("modelId", this.meta.modelId);
        write.run("dimensions", String(this.meta.dimensions));
      })();
      return;
    }
    const stored = { modelId, dimensions: Number(dimensions) };
    if (stored.modelId !== this.meta.modelId || stored.dimensions !== this.meta.dimensions)
      throw new MemoryMismatchError(mismatchMessage(stored, this.meta, this.path), { details: { stored, wanted: this.meta } });
  }

  private checkDimensions(vector: Float32Array): void {
    if (vector.length !== this.meta.dimensions)
      throw new MemoryMismatchError(
        `a ${vector.length}-dimension vector was given to a memory of ${this.meta.dimensions} dimensions (${this.meta.modelId})`,
      );
  }

  private load(db: Database): void {
    const total = db.query<{ n: number }, []>("SELECT count(*) AS n FROM points").get()!.n;
    this.slab.reserve(total);
    const page = db.query<VectorRow, [number, number]>(
      "SELECT seq, customer_id, type, stage, ts, vector FROM points WHERE seq > ? ORDER BY seq LIMIT ?",
    );
    const dims = this.meta.dimensions;
    let after = 0;
    for (;;) {
      const rows = page.all(after, LOAD_PAGE_ROWS);
      for (const row of rows) {
        // Blobs are not guaranteed 4-byte aligned; copy the bytes before viewing them as floats.
        const vector = new Float32Array(row.vector.slice().buffer, 0, dims);
        this.slab.put(row.seq, row.customer_id, row.type, row.stage, row.ts, vector);
      }
      if (rows.length < LOAD_PAGE_ROWS) break;
      after = rows[rows.length - 1]!.seq;
    }
  }

  private withPayloads(hits: SlotHit[]): MemoryHit[] {
    if (hits.length === 0) return [];
    const seqs = hits.map((h) => this.slab.rowid(h.slot));
    const rows = this.open()
      .query<PayloadRow, number[]>(
        `SELECT seq, id, customer_id, message_id, type, event, stage, ts, text FROM points WHERE seq IN (${seqs.map(() => "?").join(",")})`,
      )
      .all(...seqs);
    const bySeq = new Map(rows.map((r) => [r.seq, r]));
    return hits.map((h, i) => {
      const r = bySeq.get(seqs[i]!)!;
      return {
        id: r.id,
        score: h.score,
        customerId: r.customer_id,
        payload: { messageId: r.message_id, type: r.type, event: r.event, stage: r.stage, ts: r.ts, text: r.text },
      };
    });
  }
}

function distinctCustomers(hits: { customerId: string; score: number }[]): { customerId: string; score: number }[] {
  const seen = new Set<string>();
  return hits.filter((h) => !seen.has(h.customerId) && seen.add(h.customerId));
}

export async function openEmbeddedStore(options: EmbeddedStoreOptions): Promise<EmbeddedStore> {
  const store = new EmbeddedStore(options);
  await store.init();
  return store;
}
