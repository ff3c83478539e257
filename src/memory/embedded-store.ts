import { Database, type SQLQueryBindings } from "bun:sqlite";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { MemoryMismatchError } from "../errors/memory-mismatch-error";
import { CustomerDirections } from "./customer-directions";
import { applyEvent, emptyCustomerVector, mergeCustomerVector, normalised, type CustomerVector } from "./customer-vector";
import { openMemoryDatabase, PAYLOAD_COLUMNS, pointsHighWater, pruneChanges, readMeta, toPayloadRow, writeMeta } from "./embedded-schema";
import { bm25, combinedScore, keywordTerms, type CorpusStats, type SearchMode } from "./keyword-score";
import {
  DEFAULT_HALF_LIFE_MS,
  mismatchMessage,
  type CustomerHit,
  type CustomerSearch,
  type CustomerVectorOptions,
  type MemoryEvent,
  type MemoryFilter,
  type MemoryHit,
  type MemoryList,
  type MemoryMeta,
  type MemoryPoint,
  type MemorySearch,
  type MemoryStore,
  type SimilarCustomer,
} from "./memory-store";
import { uuidToBytes } from "./point-id";
import { TopK } from "./top-k";
import { VectorFile, type VectorFileRow } from "./vector-file";
import {
  addCounter,
  bytes,
  countTerms,
  dataVersion,
  dot,
  fetchCandidates,
  filterSql,
  floats,
  hasFilter,
  lastChange,
  readCounter,
  splitTerms,
  statements,
  type CandidateRow,
} from "./embedded-sql";

export type EmbeddedStoreOptions = CustomerVectorOptions & {
  /** Lifeline's data folder; the memory lives in `<dataDir>/memory/<fileName>`. */
  dataDir: string;
  modelId: string;
  dimensions: number;
  /** @defaultValue the file named in `<dataDir>/memory/CURRENT`, else "memory.sqlite" */
  fileName?: string;
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

const PRUNE_EVERY_CHANGES = 1024;
const REPLACED_CHECK_MS = 1000;
const DERIVE_PAGE_ROWS = 20_000;
// Global search rescores this many Int8 candidates per wanted hit exactly (recall vs cost).
const CANDIDATES_PER_HIT = 4;
const EXTRA_CANDIDATES = 20;
const MAX_CANDIDATES = 20_000;
const DF_CACHE_MS = 30_000;
const WARM_CUSTOMERS_PER_TICK = 2_000;
/**
 * Query terms in more than this share of (and at least COMMON_TERM_MIN) points find no
 * candidates: ranking a posting list that long costs tens of milliseconds, for an idf near 0.
 */
const COMMON_TERM_SHARE = 0.1;
const COMMON_TERM_MIN = 1000;

type ScoredRow = { seq: number; score: number };

/**
 * The no-server memory, held once per machine: SQLite (WAL) is the durable, idempotent record
 * shared by every process on the data folder, and every search reads it or the shared
 * memory-mapped codes beside it (vector-file.ts), so no process keeps a copy of the vectors
 * and another process's writes are visible to the next search. Per-customer search scans that
 * customer's rows exactly; global search scans the Int8 codes natively and rescores the best
 * candidates exactly; keyword scores are BM25 over stemmed terms (keyword-score.ts).
 */
export class EmbeddedStore implements MemoryStore {
  readonly meta: MemoryMeta;
  readonly path: string;
  readonly fileName: string;
  private db?: Database;
  private vectors?: VectorFile;
  private directions: CustomerDirections;
  private directionsDataVersion = -1;
  private readonly typeIds = new Map<string, number>();
  private replacedBy?: string;
  private replacedCheckedAt = 0;
  private readonly halfLifeMs: number;
  private readonly dfCache = new Map<string, number>();
  private dfCachedAt = 0;

  constructor(private readonly options: EmbeddedStoreOptions) {
    this.meta = { modelId: options.modelId, dimensions: options.dimensions };
    this.fileName = options.fileName ?? currentMemoryFile(options.dataDir);
    this.path = join(options.dataDir, "memory", this.fileName);
    this.halfLifeMs = options.halfLifeMs ?? DEFAULT_HALF_LIFE_MS;
    this.directions = new CustomerDirections(options.dimensions);
  }

  async init(): Promise<void> {
    if (this.db) return;
    mkdirSync(join(this.options.dataDir, "memory"), { recursive: true });
    const db = openMemoryDatabase(this.path);
    try {
      db.transaction(() => {
        this.checkMeta(db);
        this.deriveIfNeeded(db);
      }).immediate();
    } catch (err) {
      db.close();
      throw err;
    }
    this.db = db;
    this.vectors ??= new VectorFile(this.path, this.meta.dimensions);
    this.warmDirections();
  }

  /**
   * Loads the customers' behaviour vectors in the background, a slice per tick, so the first
   * similar-customers call does not pay for all of them and opening never waits for it.
   */
  private warmDirections(): void {
    const step = () => {
      if (!this.db) return;
      try {
        if (!this.directions.refresh(this.db, WARM_CUSTOMERS_PER_TICK)) setTimeout(step, 0);
      } catch {
        // A busy or closed database: similarCustomers loads what is missing itself.
      }
    };
    setTimeout(step, 0);
  }

  async upsert(points: MemoryPoint[]): Promise<void> {
    for (const point of points) this.checkDimensions(point.vector);
    if (points.length === 0) return;
    const units = points.map((p) => normalised(p.vector));
    const terms = points.map((p) => keywordTerms(p.payload.text));
    this.write((db) => {
      const s = statements(db);
      const now = Date.now();
      const highWater = pointsHighWater(db);
      const fileRows: VectorFileRow[] = [];
      const removed: number[] = [];
      const customerChanges = new Map<string, Array<{ vector: ArrayLike<number>; ts: number; sign: 1 | -1 }>>();
      const change = (customerId: string, vector: ArrayLike<number>, ts: number, sign: 1 | -1) => {
        let list = customerChanges.get(customerId);
        if (!list) customerChanges.set(customerId, (list = []));
        list.push({ vector, ts, sign });
      };
      let pointDelta = 0;
      let termDelta = 0;
      points.forEach((p, i) => {
        const v = units[i]!;
        const id = uuidToBytes(p.id);
        const args = [
          id, p.customerId, p.payload.messageId, p.payload.type, p.payload.event, p.payload.stage, p.payload.ts,
          p.payload.text, new Uint8Array(v.buffer, v.byteOffset, v.byteLength), terms[i]!.join(" "),
        ] as const;
        let row = s.insert.get(...args);
        if (!row) {
          // Redelivery: replace the row under a fresh seq so readers of the feed see it as new.
          const old = s.deleteById.get(id)!;
          s.ftsDelete.run(old.seq, old.terms);
          s.change.run(highWater, "remove", old.seq, null, null, now);
          removed.push(old.seq);
          change(old.customer_id, floats(old.vector, this.meta.dimensions), old.ts, -1);
          pointDelta--;
          termDelta -= countTerms(old.terms);
          row = s.insert.get(...args)!;
        }
        s.ftsInsert.run(row.seq, terms[i]!.join(" "));
        fileRows.push({ seq: row.seq, unit: v, ts: p.payload.ts, typeId: this.typeId(db, p.payload.type), stage: p.payload.stage });
        change(p.customerId, v, p.payload.ts, 1);
        pointDelta++;
        termDelta += terms[i]!.length;
      });
      this.vectors!.erase(removed);
      this.vectors!.write(fileRows);
      this.updateCustomers(db, [...customerChanges.keys()], (cvs) => {
        for (const [customerId, list] of customerChanges) for (const c of list) applyEvent(cvs.get(customerId)!, c.vector, c.ts, this.halfLifeMs, c.sign);
      });
      addCounter(db, "points", pointDelta);
      addCounter(db, "terms", termDelta);
    });
  }

  async search(query: MemorySearch): Promise<MemoryHit[]> {
    const db = this.reader();
    const mode = query.mode ?? "vector";
    const q = this.queryVector(query.vector, mode);
    const words = mode === "vector" ? [] : keywordTerms(query.text ?? "");
    const scored =
      query.customerId === undefined
        ? this.searchGlobal(db, q, words, mode, query, query.limit)
        : this.searchCustomer(db, query.customerId, q, words, mode, query, query.limit);
    return this.withPayloads(db, scored);
  }

  async list(query: MemoryList): Promise<MemoryEvent[]> {
    const db = this.reader();
    const { where, args } = filterSql(query);
    return db
      .query<Parameters<typeof toPayloadRow>[0], SQLQueryBindings[]>(
        `SELECT ${PAYLOAD_COLUMNS} FROM points WHERE customer_id = ?${where} ORDER BY ts DESC, seq DESC LIMIT ?`,
      )
      .all(query.customerId, ...args, query.limit)
      .map((r) => {
        const { id, customerId, payload } = toPayloadRow(r);
        return { id, customerId, payload };
      });
  }

  async searchCustomers(query: CustomerSearch): Promise<CustomerHit[]> {
    const db = this.reader();
    const mode = query.mode ?? "vector";
    const q = this.queryVector(query.vector, mode);
    const words = mode === "vector" ? [] : keywordTerms(query.text ?? "");
    // Any customer outside the top-N events scores below all of them, so the first `limit`
    // distinct customers in the top-N are exactly the best customers.
    let wanted = query.limit * query.perCustomer * 4;
    let ranked: { customerId: string; score: number }[];
    for (;;) {
      const hits = this.searchGlobal(db, q, words, mode, query, wanted);
      ranked = distinctCustomers(hits.map((h) => ({ customerId: h.customerId, score: h.score })));
      if (ranked.length >= query.limit || hits.length < wanted || wanted >= MAX_CANDIDATES) break;
      wanted *= 4;
    }
    return ranked.slice(0, query.limit).map(({ customerId, score }) => ({
      customerId,
      score,
      events: this.withPayloads(db, this.searchCustomer(db, customerId, q, words, mode, query, query.perCustomer)),
    }));
  }

  async similarCustomers(customerId: string, k: number): Promise<SimilarCustomer[]> {
    const db = this.reader();
    const version = dataVersion(db);
    if (version !== this.directionsDataVersion) {
      this.directions.refresh(db);
      this.directionsDataVersion = version;
    }
    return this.directions.similar(customerId, k);
  }

  async reassignCustomer(fromId: string, toId: string): Promise<void> {
    if (fromId === toId) return;
    this.write((db) => {
      db.query("UPDATE points SET customer_id = ? WHERE customer_id = ?").run(toId, fromId);
      this.updateCustomers(db, [fromId, toId], (cvs) => {
        mergeCustomerVector(cvs.get(toId)!, cvs.get(fromId)!, this.halfLifeMs);
        Object.assign(cvs.get(fromId)!, emptyCustomerVector(this.meta.dimensions, 0));
      });
      statements(db).change.run(pointsHighWater(db), "reassign", null, fromId, toId, Date.now());
    });
  }

  async deleteCustomer(customerId: string): Promise<number> {
    let removed = 0;
    this.write((db) => {
      const s = statements(db);
      const rows = db.query<{ seq: number; terms: string }, [string]>("SELECT seq, terms FROM points WHERE customer_id = ?").all(customerId);
      for (const r of rows) s.ftsDelete.run(r.seq, r.terms);
      removed = db.query("DELETE FROM points WHERE customer_id = ?").run(customerId).changes;
      this.vectors!.erase(rows.map((r) => r.seq));
      this.updateCustomers(db, [customerId], (cvs) => Object.assign(cvs.get(customerId)!, emptyCustomerVector(this.meta.dimensions, 0)));
      addCounter(db, "points", -rows.length);
      addCounter(db, "terms", -rows.reduce((n, r) => n + countTerms(r.terms), 0));
      s.change.run(pointsHighWater(db), "delete", null, customerId, null, Date.now());
    });
    // Erasure: secure_delete zeroes freed pages; the checkpoint drops the old pages from the WAL.
    this.open().exec("PRAGMA wal_checkpoint(TRUNCATE)");
    return removed;
  }

  /** The running sums behind `similarCustomers` (for inspection and tests). */
  async customerVector(customerId: string): Promise<CustomerVector | undefined> {
    const r = this.reader()
      .query<{ weight: number; ref_ts: number; sum: Uint8Array }, [string]>("SELECT weight, ref_ts, sum FROM customers WHERE customer_id = ?")
      .get(customerId);
    return r ? { weight: r.weight, refTs: r.ref_ts, sum: new Float64Array(r.sum.slice().buffer) } : undefined;
  }

  async count(customerId?: string): Promise<number> {
    const db = this.reader();
    if (customerId !== undefined) return db.query<{ n: number }, [string]>("SELECT count(*) AS n FROM points WHERE customer_id = ?").get(customerId)!.n;
    return readCounter(db, "points");
  }

  async close(): Promise<void> {
    if (!this.db) return;
    try {
      this.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } finally {
      this.db.close();
      this.db = undefined;
      this.vectors?.close();
      this.vectors = undefined;
      this.directions = new CustomerDirections(this.meta.dimensions);
      this.directionsDataVersion = -1;
    }
  }

  private searchCustomer(db: Database, customerId: string, q: Float32Array | undefined, words: string[], mode: SearchMode, filter: MemoryFilter, limit: number): ScoredRow[] {
    const { where, args } = filterSql(filter);
    const rows = db
      .query<{ seq: number; vector: Uint8Array; terms: string }, SQLQueryBindings[]>(`SELECT seq, vector, terms FROM points WHERE customer_id = ?${where}`)
      .all(customerId, ...args);
    const stats = mode === "vector" ? undefined : this.corpusStats(db);
    const top = new TopK(limit);
    for (const r of rows) {
      const cosine = q ? dot(r.vector, q) : 0;
      const keyword = stats ? bm25(words, splitTerms(r.terms), stats) : 0;
      if (mode === "keyword" && keyword <= 0) continue;
      top.push(r.seq, combinedScore(mode, cosine, keyword));
    }
    return top.entries().map(({ item, score }) => ({ seq: item, score }));
  }

  /** Candidates from the Int8 scan and/or the keyword index, rescored exactly; grows until `limit` live hits or none left. */
  private searchGlobal(db: Database, q: Float32Array | undefined, words: string[], mode: SearchMode, filter: MemoryFilter, limit: number): Array<ScoredRow & { customerId: string }> {
    const maxSeq = pointsHighWater(db);
    const stats = mode === "vector" ? undefined : this.corpusStats(db);
    for (let wanted = Math.min(MAX_CANDIDATES, limit * CANDIDATES_PER_HIT + EXTRA_CANDIDATES); ; wanted = Math.min(MAX_CANDIDATES, wanted * 4)) {
      const fromVector = q && mode !== "keyword" ? this.vectors!.candidates(q, maxSeq, filter, (name) => this.knownTypeId(db, name), wanted) : [];
      const fromKeywords = mode === "vector" ? [] : this.keywordCandidates(db, words, filter, wanted);
      const seqs = [...new Set([...fromVector, ...fromKeywords])];
      const rows = fetchCandidates(db, seqs);
      const top = new TopK(limit);
      const owner = new Map<number, string>();
      for (const r of rows) {
        const cosine = q ? dot(r.vector, q) : 0;
        const keyword = stats ? bm25(words, splitTerms(r.terms), stats) : 0;
        if (mode === "keyword" && keyword <= 0) continue;
        owner.set(r.seq, r.customer_id);
        top.push(r.seq, combinedScore(mode, cosine, keyword));
      }
      const exhausted = fromVector.length < wanted && fromKeywords.length < wanted;
      if (top.items.length >= limit || exhausted || wanted >= MAX_CANDIDATES)
        return top.entries().map(({ item, score }) => ({ seq: item, score, customerId: owner.get(item)! }));
    }
  }

  /** Points holding any query term, best BM25 first (FTS5's ranking), that pass the filter. */
  private keywordCandidates(db: Database, words: string[], filter: MemoryFilter, wanted: number): number[] {
    const stats = this.corpusStats(db);
    const rare = [...new Set(words)].filter((w) => stats.documentFrequency(w) <= Math.max(COMMON_TERM_MIN, COMMON_TERM_SHARE * stats.documents));
    if (rare.length === 0) return [];
    const match = rare.map((w) => `"${w.replaceAll('"', '""')}"`).join(" OR ");
    const seqs = db
      .query<{ seq: number }, [string, number]>("SELECT rowid AS seq FROM points_fts WHERE points_fts MATCH ? ORDER BY rank LIMIT ?")
      .all(match, hasFilter(filter) ? wanted * 8 : wanted)
      .map((r) => r.seq);
    if (!hasFilter(filter) || seqs.length === 0) return seqs;
    const { where, args } = filterSql(filter);
    const passing = new Set(
      db
        .query<{ seq: number }, SQLQueryBindings[]>(`SELECT seq FROM points WHERE seq IN (SELECT value FROM json_each(?))${where}`)
        .all(JSON.stringify(seqs), ...args)
        .map((r) => r.seq),
    );
    return seqs.filter((s) => passing.has(s)).slice(0, wanted);
  }

  /**
   * BM25's corpus figures. Document frequencies come from the keyword index, which counts a
   * term's postings (milliseconds for a term in every point), so they are kept for
   * DF_CACHE_MS: an idf moves little in that time.
   */
  private corpusStats(db: Database): CorpusStats {
    const documents = readCounter(db, "points");
    const now = Date.now();
    if (now - this.dfCachedAt > DF_CACHE_MS) {
      this.dfCache.clear();
      this.dfCachedAt = now;
    }
    return {
      documents,
      meanLength: documents > 0 ? readCounter(db, "terms") / documents : 0,
      documentFrequency: (term) => {
        let n = this.dfCache.get(term);
        if (n === undefined) {
          n = db.query<{ doc: number }, [string]>("SELECT doc FROM points_vocab WHERE term = ?").get(term)?.doc ?? 0;
          this.dfCache.set(term, n);
        }
        return n;
      },
    };
  }

  private queryVector(vector: Float32Array | undefined, mode: SearchMode): Float32Array | undefined {
    if (mode === "keyword") return undefined;
    if (!vector) throw new Error(`a ${mode} search needs a query vector`);
    this.checkDimensions(vector);
    return normalised(vector);
  }

  /**
   * Reads and writes customer vectors of `customerIds` in the open write transaction: `change`
   * edits them in place; each written row gets the next version, so readers refresh just those.
   */
  private updateCustomers(db: Database, customerIds: string[], change: (cvs: Map<string, CustomerVector>) => void): void {
    const read = db.query<{ weight: number; ref_ts: number; sum: Uint8Array }, [string]>("SELECT weight, ref_ts, sum FROM customers WHERE customer_id = ?");
    const cvs = new Map<string, CustomerVector>();
    for (const id of customerIds) {
      const r = read.get(id);
      cvs.set(id, r ? { weight: r.weight, refTs: r.ref_ts, sum: new Float64Array(r.sum.slice().buffer) } : emptyCustomerVector(this.meta.dimensions, 0));
    }
    change(cvs);
    const version = addCounter(db, "customersVersion", 1);
    const write = db.query(
      `INSERT INTO customers (customer_id, weight, ref_ts, sum, version) VALUES (?1, ?2, ?3, ?4, ?5)
       ON CONFLICT (customer_id) DO UPDATE SET weight = ?2, ref_ts = ?3, sum = ?4, version = ?5`,
    );
    for (const [id, cv] of cvs) write.run(id, cv.weight, cv.refTs, bytes(cv.sum), version);
  }

  private typeId(db: Database, name: string): number {
    let id = this.typeIds.get(name);
    if (id === undefined) {
      db.query("INSERT OR IGNORE INTO types (name) VALUES (?)").run(name);
      id = db.query<{ id: number }, [string]>("SELECT id FROM types WHERE name = ?").get(name)!.id;
      this.typeIds.set(name, id);
    }
    return id;
  }

  private knownTypeId(db: Database, name: string): number | undefined {
    let id = this.typeIds.get(name);
    if (id === undefined) {
      id = db.query<{ id: number }, [string]>("SELECT id FROM types WHERE name = ?").get(name)?.id;
      if (id !== undefined) this.typeIds.set(name, id);
    }
    return id;
  }

  private withPayloads(db: Database, hits: ScoredRow[]): MemoryHit[] {
    if (hits.length === 0) return [];
    const rows = db
      .query<Parameters<typeof toPayloadRow>[0], [string]>(`SELECT ${PAYLOAD_COLUMNS} FROM points WHERE seq IN (SELECT value FROM json_each(?))`)
      .all(JSON.stringify(hits.map((h) => h.seq)))
      .map(toPayloadRow);
    const bySeq = new Map(rows.map((r) => [r.seq, r]));
    // A row erased between scoring and this read is gone: drop its hit rather than show it.
    return hits.flatMap((h) => {
      const r = bySeq.get(h.seq);
      return r ? [{ id: r.id, score: h.score, customerId: r.customerId, payload: r.payload }] : [];
    });
  }

  /**
   * Fills what a migrated memory lacks (terms, keyword index, customer vectors) and makes the
   * codes files again when they are missing or shorter than the points: they are a cache.
   */
  private deriveIfNeeded(db: Database): void {
    const pending = readMeta(db, "derived") === "pending";
    const highWater = pointsHighWater(db);
    const filesOk = VectorFile.exists(this.path) && VectorFile.rowsOf(this.path, this.meta.dimensions) > highWater;
    if (!pending && (filesOk || highWater === 0)) return;
    VectorFile.remove(this.path);
    this.vectors = new VectorFile(this.path, this.meta.dimensions);
    const cvs = new Map<string, CustomerVector>();
    let points = 0;
    let termCount = 0;
    if (pending) db.exec("INSERT INTO points_fts (points_fts) VALUES ('delete-all')");
    const page = db.query<CandidateRow & { type: string; stage: MemoryPoint["payload"]["stage"]; ts: number; text: string }, [number, number]>(
      "SELECT seq, customer_id, type, stage, ts, text, vector, terms FROM points WHERE seq > ? ORDER BY seq LIMIT ?",
    );
    const setTerms = db.query("UPDATE points SET terms = ? WHERE seq = ?");
    const ftsInsert = db.query("INSERT INTO points_fts (rowid, terms) VALUES (?, ?)");
    for (let after = 0; ; ) {
      const rows = page.all(after, DERIVE_PAGE_ROWS);
      if (rows.length === 0) break;
      const fileRows: VectorFileRow[] = [];
      for (const r of rows) {
        const unit = floats(r.vector, this.meta.dimensions);
        fileRows.push({ seq: r.seq, unit, ts: r.ts, typeId: this.typeId(db, r.type), stage: r.stage });
        if (pending) {
          const terms = keywordTerms(r.text);
          setTerms.run(terms.join(" "), r.seq);
          ftsInsert.run(r.seq, terms.join(" "));
          termCount += terms.length;
          points++;
          let cv = cvs.get(r.customer_id);
          if (!cv) cvs.set(r.customer_id, (cv = emptyCustomerVector(this.meta.dimensions, r.ts)));
          applyEvent(cv, unit, r.ts, this.halfLifeMs);
        }
      }
      this.vectors.write(fileRows);
      after = rows[rows.length - 1]!.seq;
    }
    if (!pending) return;
    db.exec("DELETE FROM customers");
    this.updateCustomers(db, [...cvs.keys()], (stored) => {
      for (const [id, cv] of cvs) Object.assign(stored.get(id)!, cv);
    });
    db.query("INSERT OR REPLACE INTO counters (name, value) VALUES ('points', ?), ('terms', ?)").run(points, termCount);
    writeMeta(db, "derived", "done");
  }

  private open(): Database {
    if (!this.db) throw new Error("EmbeddedStore used before init() or after close()");
    if (this.replacedBy) throw new MemoryMismatchError(this.replacedBy);
    return this.db;
  }

  /** The database for a read, after (at most once a second) checking reembed has not replaced it. */
  private reader(): Database {
    const db = this.open();
    const now = Date.now();
    if (now - this.replacedCheckedAt >= REPLACED_CHECK_MS) {
      this.replacedCheckedAt = now;
      this.checkNotReplaced();
    }
    return db;
  }

  /** One write transaction (waits for other processes' writers). */
  private write(run: (db: Database) => void): void {
    const db = this.open();
    db.transaction(() => {
      // Reembed switches the memory while holding the write lock: a writer that waited for it
      // must not write into the old file.
      this.checkNotReplaced();
      const before = lastChange(db);
      run(db);
      if (Math.floor(lastChange(db) / PRUNE_EVERY_CHANGES) > Math.floor(before / PRUNE_EVERY_CHANGES)) pruneChanges(db, Date.now());
    }).immediate();
    // data_version only moves for other connections' commits: our own writes refresh the cache next time.
    this.directionsDataVersion = -1;
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
