import { Database, type SQLQueryBindings, type Statement } from "bun:sqlite";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MemoryMismatchError } from "../errors/memory-mismatch-error";
import { normalised, type CustomerVector } from "./customer-vector";
import {
  feedStep,
  openMemoryDatabase,
  PAYLOAD_COLUMNS,
  pointsHighWater,
  pruneChanges,
  readMeta,
  readVectorRows,
  startCursor,
  toPayloadRow,
  writeMeta,
  type FeedChange,
  type FeedCursor,
  type VectorRow,
} from "./embedded-schema";
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
  type MemoryStore,
  type SimilarCustomer,
} from "./memory-store";
import { uuidToBytes } from "./point-id";
import { VectorSlab, type SlotHit } from "./vector-slab";

export type EmbeddedStoreOptions = CustomerVectorOptions & {
  /** Lifeline's data folder; the memory lives in `<dataDir>/memory/<fileName>`. */
  dataDir: string;
  modelId: string;
  dimensions: number;
  /** @defaultValue the file named in `<dataDir>/memory/CURRENT`, else "memory.sqlite" */
  fileName?: string;
  /**
   * How often to look for other processes' writes while idle; every search also looks first.
   * @defaultValue 50
   */
  syncIntervalMs?: number;
};

export const MEMORY_FILE = "memory.sqlite";

/** Which file in `<dataDir>/memory` is the memory; `bun run reembed` switches it atomically. */
export function currentMemoryFile(dataDir: string): string {
  try {
    return readFileSync(join(dataDir, "memory", "CURRENT"), "utf8").trim() || MEMORY_FILE;
  } catch {
    return MEMORY_FILE;
  }
}

/** Points `CURRENT` at `fileName` (write + rename, so readers see the old or the new name, never half). */
export function switchMemoryFile(dataDir: string, fileName: string): void {
  const dir = join(dataDir, "memory");
  writeFileSync(join(dir, "CURRENT.tmp"), `${fileName}\n`);
  renameSync(join(dir, "CURRENT.tmp"), join(dir, "CURRENT"));
}
const LOAD_PAGE_ROWS = 20_000;
const PRUNE_EVERY_CHANGES = 1024;

type SlabOp = { kind: "put"; seq: number; point: MemoryPoint; unit: Float32Array } | { kind: "remove"; seq: number };

/**
 * The no-server memory: SQLite (WAL) is the durable, idempotent record shared by every process
 * on the data folder; each process keeps an in-memory slab built from it that answers every
 * search exactly (see vector-slab.ts), and tails the file (embedded-schema.ts) so writes from
 * other processes are applied before its next answer.
 */
export class EmbeddedStore implements MemoryStore {
  readonly meta: MemoryMeta;
  readonly path: string;
  readonly fileName: string;
  private db?: Database;
  private slab: VectorSlab;
  private cursor: FeedCursor = { point: 0, change: 0 };
  private dataVersion = -1;
  private replacedBy?: string;
  private timer?: ReturnType<typeof setInterval>;
  private statements?: ReturnType<typeof prepare>;

  constructor(private readonly options: EmbeddedStoreOptions) {
    this.meta = { modelId: options.modelId, dimensions: options.dimensions };
    this.fileName = options.fileName ?? currentMemoryFile(options.dataDir);
    this.path = join(options.dataDir, "memory", this.fileName);
    this.slab = this.emptySlab();
  }

  async init(): Promise<void> {
    if (this.db) return;
    mkdirSync(join(this.options.dataDir, "memory"), { recursive: true });
    const db = openMemoryDatabase(this.path);
    try {
      db.transaction(() => this.checkMeta(db)).immediate();
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
    this.statements = prepare(db);
    this.reload();
    this.timer = setInterval(() => this.syncQuietly(), this.options.syncIntervalMs ?? 50);
    this.timer.unref?.();
  }

  /** Applies every write other processes have committed; searches do this themselves. */
  async refresh(): Promise<void> {
    this.sync();
  }

  async upsert(points: MemoryPoint[]): Promise<void> {
    for (const point of points) this.checkDimensions(point.vector);
    const unit = points.map((p) => normalised(p.vector));
    const s = this.statements!;
    const ops: SlabOp[] = [];
    const cursor = this.write(() => {
      const highWater = pointsHighWater(this.db!);
      const now = Date.now();
      let change = this.cursor.change;
      let point = highWater;
      points.forEach((p, i) => {
        const v = unit[i]!;
        const id = uuidToBytes(p.id);
        const args = [
          id, p.customerId, p.payload.messageId, p.payload.type, p.payload.event, p.payload.stage, p.payload.ts,
          p.payload.text, new Uint8Array(v.buffer, v.byteOffset, v.byteLength),
        ] as const;
        let row = s.insert.get(...args);
        if (!row) {
          // Redelivery: replace the row under a fresh seq so other processes see it as new.
          const old = s.deleteById.get(id)!;
          change = s.change.get(highWater, "remove", old.seq, null, null, now)!.seq;
          ops.push({ kind: "remove", seq: old.seq });
          row = s.insert.get(...args)!;
        }
        point = row.seq;
        ops.push({ kind: "put", seq: row.seq, point: p, unit: v });
      });
      return { point, change };
    });
    for (const op of ops) {
      if (op.kind === "remove") this.slab.removeRow(op.seq);
      else this.slab.put(op.seq, op.point.customerId, op.point.payload.type, op.point.payload.stage, op.point.payload.ts, op.unit);
    }
    this.cursor = cursor;
  }

  async search(query: MemorySearch): Promise<MemoryHit[]> {
    this.sync();
    this.checkDimensions(query.vector);
    const q = normalised(query.vector);
    const hits =
      query.customerId === undefined
        ? this.slab.searchGlobal(q, query, query.limit)
        : this.slab.searchCustomer(query.customerId, q, query, query.limit);
    return this.withPayloads(hits);
  }

  async searchCustomers(query: CustomerSearch): Promise<CustomerHit[]> {
    this.sync();
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
    this.sync();
    return this.slab.similarCustomers(customerId, k);
  }

  async reassignCustomer(fromId: string, toId: string): Promise<void> {
    this.sync();
    if (fromId === toId) return;
    const s = this.statements!;
    const cursor = this.write(() => {
      s.reassign.run(toId, JSON.stringify(this.slab.rowidsOf(fromId)));
      const change = s.change.get(pointsHighWater(this.db!), "reassign", null, fromId, toId, Date.now())!.seq;
      return { point: this.cursor.point, change };
    });
    this.slab.reassign(fromId, toId);
    this.cursor = cursor;
  }

  async deleteCustomer(customerId: string): Promise<number> {
    this.sync();
    const s = this.statements!;
    let removed = 0;
    const cursor = this.write(() => {
      removed = s.deleteRows.run(JSON.stringify(this.slab.rowidsOf(customerId))).changes;
      const change = s.change.get(pointsHighWater(this.db!), "delete", null, customerId, null, Date.now())!.seq;
      return { point: this.cursor.point, change };
    });
    this.slab.removeCustomer(customerId);
    this.cursor = cursor;
    // Erasure: secure_delete zeroes freed pages; the checkpoint drops the old pages from the WAL.
    this.db!.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return removed;
  }

  /** The running sums behind `similarCustomers` (for inspection and tests). */
  async customerVector(customerId: string): Promise<CustomerVector | undefined> {
    this.sync();
    return this.slab.customerVector(customerId);
  }

  async count(customerId?: string): Promise<number> {
    this.sync();
    return this.slab.countOf(customerId);
  }

  async close(): Promise<void> {
    if (!this.db) return;
    clearInterval(this.timer);
    this.statements = undefined;
    try {
      this.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } finally {
      this.db.close();
      this.db = undefined;
      this.slab = this.emptySlab();
    }
  }

  private emptySlab(): VectorSlab {
    return new VectorSlab(this.meta.dimensions, this.options.halfLifeMs ?? DEFAULT_HALF_LIFE_MS);
  }

  private open(): Database {
    if (!this.db) throw new Error("EmbeddedStore used before init() or after close()");
    if (this.replacedBy) throw new MemoryMismatchError(this.replacedBy);
    return this.db;
  }

  /**
   * One write transaction (waits for other processes' writers): first catches up with what they
   * committed, so the cursor it returns covers everything up to and including this write.
   */
  private write(run: () => FeedCursor): FeedCursor {
    const db = this.open();
    return db
      .transaction(() => {
        // Reembed switches the memory while holding the write lock: a writer that waited for it
        // must not write into the old file.
        this.checkNotReplaced();
        this.applyFeed(db);
        const before = this.cursor.change;
        const cursor = run();
        if (Math.floor(cursor.change / PRUNE_EVERY_CHANGES) > Math.floor(before / PRUNE_EVERY_CHANGES)) pruneChanges(db, Date.now());
        return cursor;
      })
      .immediate();
  }

  private syncQuietly(): void {
    try {
      this.checkNotReplaced();
      this.sync();
    } catch {
      // The next call syncs again and reports the error to its caller.
    }
  }

  private sync(): void {
    const db = this.open();
    const version = this.statements!.dataVersion.get()!.data_version;
    if (version === this.dataVersion) return;
    db.transaction(() => this.applyFeed(db))();
    this.dataVersion = version;
  }

  private checkNotReplaced(): void {
    if (this.options.fileName !== undefined) return;
    const current = currentMemoryFile(this.options.dataDir);
    if (current === this.fileName) return;
    this.replacedBy =
      `the vector memory at ${this.path} was replaced by ${current} (\`bun run reembed\`) while this process had it open; ` +
      "restart the process with the embedding model the new memory was built with";
    throw new MemoryMismatchError(this.replacedBy);
  }

  /** Applies, in commit order, what other processes wrote since the cursor. */
  private applyFeed(db: Database): void {
    for (;;) {
      const step = feedStep(db, this.cursor, LOAD_PAGE_ROWS, readVectorRows);
      if (!step) return;
      if (step.kind === "reset") return this.loadAll(db);
      if (step.kind === "points") for (const row of step.rows) this.putRow(row);
      else this.applyChange(step.change);
      this.cursor = step.cursor;
    }
  }

  private applyChange(change: FeedChange): void {
    if (change.op === "remove") this.slab.removeRow(change.point);
    else if (change.op === "reassign") this.slab.reassign(change.customerId, change.toId);
    else this.slab.removeCustomer(change.customerId);
  }

  private reload(): void {
    const db = this.open();
    db.transaction(() => this.loadAll(db))();
    this.dataVersion = this.statements!.dataVersion.get()!.data_version;
  }

  private loadAll(db: Database): void {
    this.slab = this.emptySlab();
    this.slab.reserve(db.query<{ n: number }, []>("SELECT count(*) AS n FROM points").get()!.n);
    this.cursor = startCursor(db);
    this.applyFeed(db);
  }

  private putRow([seq, customerId, type, stage, ts, bytes]: VectorRow): void {
    // Blobs are not guaranteed 4-byte aligned; view them in place only when they are.
    const vector =
      bytes.byteOffset % 4 === 0
        ? new Float32Array(bytes.buffer, bytes.byteOffset, this.meta.dimensions)
        : new Float32Array(bytes.slice().buffer, 0, this.meta.dimensions);
    this.slab.put(seq, customerId, type, stage, ts, vector);
  }

  private checkMeta(db: Database): void {
    const modelId = readMeta(db, "modelId");
    const dimensions = readMeta(db, "dimensions");
    if (modelId === undefined || dimensions === undefined) {
      writeMeta(db, "modelId", this.meta.modelId);
      writeMeta(db, "dimensions", String(this.meta.dimensions));
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

  private withPayloads(hits: SlotHit[]): MemoryHit[] {
    if (hits.length === 0) return [];
    const seqs = hits.map((h) => this.slab.rowid(h.slot));
    const rows = this.open()
      .query<Parameters<typeof toPayloadRow>[0], number[]>(
        `SELECT ${PAYLOAD_COLUMNS} FROM points WHERE seq IN (${seqs.map(() => "?").join(",")})`,
      )
      .all(...seqs)
      .map(toPayloadRow);
    const bySeq = new Map(rows.map((r) => [r.seq, r]));
    // A row another process erased after our last sync is gone: drop its hit rather than show it.
    return hits.flatMap((h, i) => {
      const r = bySeq.get(seqs[i]!);
      return r ? [{ id: r.id, score: h.score, customerId: r.customerId, payload: r.payload }] : [];
    });
  }
}

function prepare(db: Database) {
  return {
    insert: db.query<{ seq: number }, SQLQueryBindings[]>(
      `INSERT INTO points (id, customer_id, message_id, type, event, stage, ts, text, vector)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING seq`,
    ),
    deleteById: db.query<{ seq: number }, [Uint8Array]>("DELETE FROM points WHERE id = ? RETURNING seq"),
    change: db.query<{ seq: number }, [number, string, number | null, string | null, string | null, number]>(
      "INSERT INTO changes (after_point, op, point, customer_id, to_id, at) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq",
    ),
    // Row lists come from the slab as a JSON array of seqs.
    reassign: db.query<never, [string, string]>("UPDATE points SET customer_id = ? WHERE seq IN (SELECT value FROM json_each(?))"),
    deleteRows: db.query<never, [string]>("DELETE FROM points WHERE seq IN (SELECT value FROM json_each(?))"),
    dataVersion: db.query<{ data_version: number }, []>("PRAGMA data_version"),
  } satisfies Record<string, Statement<any, any>>;
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
