import { Database } from "bun:sqlite";
import { bytesToUuid } from "./point-id";
import type { MemoryPayload, MemoryStage } from "./memory-store";

/**
 * The embedded memory's SQLite file, shared by every Lifeline process on the data folder.
 *
 * `points` holds each event's payload, Float32 vector and stemmed keyword terms; a customer's
 * points are read through `points_customer` (per-customer search and listing scan exactly
 * that customer's rows). `points_fts` (FTS5, contentless, doc ids only, secure-delete; a row is deleted with its stored terms) indexes the terms for
 * global keyword search and document frequencies; `customers` holds each customer's
 * recency-weighted vector, versioned so processes refresh their cache of directions; the
 * Int8 codes for global search live beside the file (vector-file.ts).
 *
 * `points.seq` is AUTOINCREMENT and every upsert inserts a fresh row (a redelivered id deletes
 * its old row first), so "rows with seq > my cursor" is exactly what a reader has not seen.
 * What a new row cannot say (a row was replaced, a customer was erased or stitched into
 * another) goes to `changes`, each tagged with the points high-water mark at its commit, so
 * `bun run reembed` can copy a live memory and replay what happened meanwhile.
 */
export const SCHEMA_VERSION = "3";

const POINTS = `
  CREATE TABLE IF NOT EXISTS points (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id BLOB NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    type TEXT NOT NULL,
    event TEXT NOT NULL,
    stage TEXT NOT NULL,
    ts REAL NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL,
    terms TEXT NOT NULL DEFAULT ''
  );`;

const V3_TABLES = `
  CREATE INDEX IF NOT EXISTS points_customer ON points (customer_id, ts);
  CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    after_point INTEGER NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('remove', 'reassign', 'delete')),
    point INTEGER,
    customer_id TEXT,
    to_id TEXT,
    at REAL NOT NULL
  );
  CREATE TABLE IF NOT EXISTS customers (
    customer_id TEXT PRIMARY KEY,
    weight REAL NOT NULL,
    ref_ts REAL NOT NULL,
    sum BLOB NOT NULL,
    version INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS customers_version ON customers (version);
  CREATE TABLE IF NOT EXISTS types (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
  CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value REAL NOT NULL);
  CREATE VIRTUAL TABLE IF NOT EXISTS points_fts USING fts5 (terms, content='', detail=none, tokenize='unicode61');
  CREATE VIRTUAL TABLE IF NOT EXISTS points_vocab USING fts5vocab (points_fts, 'row');
`;

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  ${POINTS}
  ${V3_TABLES}
`;

// Version 1 kept ids as uuid text and reused rowids; copy it into the current layout once.
const MIGRATE_FROM_V1 = `
  ALTER TABLE points RENAME TO points_v1;
  DROP INDEX IF EXISTS points_customer_id;
  ${SCHEMA}
  INSERT INTO points (seq, id, customer_id, message_id, type, event, stage, ts, text, vector)
    SELECT seq, unhex(replace(id, '-', '')), customer_id, message_id, type, event, stage, ts, text, vector
    FROM points_v1 ORDER BY seq;
  DROP TABLE points_v1;
`;

// Version 2 lacked terms, customer vectors and the keyword index; the store fills them (`derived`).
const MIGRATE_FROM_V2 = `
  ALTER TABLE points ADD COLUMN terms TEXT NOT NULL DEFAULT '';
  ${V3_TABLES}
`;

/** Changes older than this are pruned; a process that fell further behind reloads everything. */
export const CHANGE_RETENTION_MS = 24 * 3600 * 1000;

export function openMemoryDatabase(path: string): Database {
  const db = new Database(path, { create: true, strict: true });
  try {
    // Several processes share the file: wait for the write lock instead of failing at once.
    db.exec("PRAGMA busy_timeout = 15000");
    // A 64 MB page cache keeps the id index hot; 64 MB of WAL lets writes to the same pages coalesce.
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA secure_delete = ON; PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 16384;");
    db.transaction(() => migrate(db)).immediate();
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

function migrate(db: Database): void {
  db.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  const version = db.query<{ value: string }, []>("SELECT value FROM meta WHERE key = 'schema'").get()?.value;
  if (version === SCHEMA_VERSION) return;
  const hasPoints = db.query<{ n: number }, []>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'points'").get()!.n > 0;
  if (version === "2") db.exec(MIGRATE_FROM_V2);
  else db.exec(version === undefined && hasPoints ? MIGRATE_FROM_V1 : SCHEMA);
  // Erased customers' words leave the keyword index at once, not at its next merge (persistent).
  db.exec("INSERT INTO points_fts (points_fts, rank) VALUES ('secure-delete', 1)");
  // Terms, customer vectors and codes of migrated points are filled by the store on open.
  if (hasPoints) writeMeta(db, "derived", "pending");
  db.query("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)").run(SCHEMA_VERSION);
}

export function readMeta(db: Database, key: string): string | undefined {
  return db.query<{ value: string }, [string]>("SELECT value FROM meta WHERE key = ?").get(key)?.value;
}

export function writeMeta(db: Database, key: string, value: string): void {
  db.query("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)").run(key, value);
}

export type FeedCursor = { point: number; change: number };

export type FeedChange =
  | { seq: number; op: "remove"; point: number }
  | { seq: number; op: "reassign"; customerId: string; toId: string }
  | { seq: number; op: "delete"; customerId: string };

export type PayloadRow = { seq: number; id: string; customerId: string; payload: MemoryPayload };

export type FeedStep<Row> =
  | { kind: "points"; rows: Row[]; cursor: FeedCursor }
  | { kind: "change"; change: FeedChange; cursor: FeedCursor }
  /** The change log was pruned past the cursor: start again from `startCursor`. */
  | { kind: "reset" };

type ChangeRow = { seq: number; after_point: number; op: FeedChange["op"]; point: number | null; customer_id: string | null; to_id: string | null };

/** Where a reader that has just read every current point stands. Call inside the same transaction. */
export function startCursor(db: Database): FeedCursor {
  const change = db.query<{ n: number }, []>("SELECT coalesce(max(seq), 0) AS n FROM changes").get()!.n;
  return { point: 0, change };
}

export function pointsHighWater(db: Database): number {
  return db.query<{ n: number }, []>("SELECT coalesce(max(seq), 0) AS n FROM points").get()!.n;
}

/**
 * One consistent step of the feed after `cursor`, or undefined when there is nothing new.
 * Run it inside a read (or write) transaction so the change and the points it reads agree.
 */
export function feedStep<Row>(db: Database, cursor: FeedCursor, pageRows: number, read: PointReader<Row>): FeedStep<Row> | undefined {
  const prunedThrough = Number(readMeta(db, "changesPrunedThrough") ?? 0);
  if (cursor.change < prunedThrough) return { kind: "reset" };
  const next = db
    .query<ChangeRow, [number]>("SELECT seq, after_point, op, point, customer_id, to_id FROM changes WHERE seq > ? ORDER BY seq LIMIT 1")
    .get(cursor.change);
  const until = next ? next.after_point : Number.MAX_SAFE_INTEGER;
  if (cursor.point < until) {
    const rows = read(db, cursor.point, until, pageRows);
    if (rows.length > 0) {
      // A short page read everything up to `until`.
      const point = rows.length < pageRows && next ? until : read.seqOf(rows[rows.length - 1]!);
      return { kind: "points", rows, cursor: { point, change: cursor.change } };
    }
  }
  if (!next) return undefined;
  return { kind: "change", change: toChange(next), cursor: { point: Math.max(cursor.point, until), change: next.seq } };
}

function toChange(row: ChangeRow): FeedChange {
  if (row.op === "remove") return { seq: row.seq, op: "remove", point: row.point! };
  if (row.op === "reassign") return { seq: row.seq, op: "reassign", customerId: row.customer_id!, toId: row.to_id! };
  return { seq: row.seq, op: "delete", customerId: row.customer_id! };
}

export type PointReader<Row> = ((db: Database, after: number, until: number, limit: number) => Row[]) & { seqOf: (row: Row) => number };

type PayloadDbRow = {
  seq: number;
  id: Uint8Array;
  customer_id: string;
  message_id: string;
  type: string;
  event: string;
  stage: MemoryStage;
  ts: number;
  text: string;
};

export function toPayloadRow(r: PayloadDbRow): PayloadRow {
  return {
    seq: r.seq,
    id: bytesToUuid(r.id),
    customerId: r.customer_id,
    payload: { messageId: r.message_id, type: r.type, event: r.event, stage: r.stage, ts: r.ts, text: r.text },
  };
}

export const PAYLOAD_COLUMNS = "seq, id, customer_id, message_id, type, event, stage, ts, text";

export const readPayloadRows: PointReader<PayloadRow> = Object.assign(
  (db: Database, after: number, until: number, limit: number) =>
    db
      .query<PayloadDbRow, [number, number, number]>(
        `SELECT ${PAYLOAD_COLUMNS} FROM points WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?`,
      )
      .all(after, until, limit)
      .map(toPayloadRow),
  { seqOf: (row: PayloadRow) => row.seq },
);

/** Drops changes every live process has long applied; records how far, so laggards know to reload. */
export function pruneChanges(db: Database, nowMs: number): void {
  const through = db
    .query<{ n: number | null }, [number]>("SELECT max(seq) AS n FROM changes WHERE at < ?")
    .get(nowMs - CHANGE_RETENTION_MS)?.n;
  if (!through) return;
  db.query("DELETE FROM changes WHERE seq <= ?").run(through);
  writeMeta(db, "changesPrunedThrough", String(through));
}
