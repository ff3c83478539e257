import type { Database, SQLQueryBindings } from "bun:sqlite";
import type { MemoryFilter } from "./memory-store";

/** The embedded store's SQL and the small conversions around it (see embedded-schema.ts for the tables). */

export type CandidateRow = { seq: number; customer_id: string; vector: Uint8Array; terms: string };

export function statements(db: Database) {
  return {
    insert: db.query<{ seq: number }, SQLQueryBindings[]>(
      `INSERT INTO points (id, customer_id, message_id, type, event, stage, ts, text, vector, terms)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING RETURNING seq`,
    ),
    deleteById: db.query<{ seq: number; customer_id: string; ts: number; vector: Uint8Array; terms: string }, [Uint8Array]>(
      "DELETE FROM points WHERE id = ? RETURNING seq, customer_id, ts, vector, terms",
    ),
    ftsInsert: db.query<never, [number, string]>("INSERT INTO points_fts (rowid, terms) VALUES (?, ?)"),
    // A contentless index forgets a row only when told its terms (kept in points.terms).
    ftsDelete: db.query<never, [number, string]>("INSERT INTO points_fts (points_fts, rowid, terms) VALUES ('delete', ?, ?)"),
    change: db.query<never, [number, string, number | null, string | null, string | null, number]>(
      "INSERT INTO changes (after_point, op, point, customer_id, to_id, at) VALUES (?, ?, ?, ?, ?, ?)",
    ),
  };
}

export function fetchCandidates(db: Database, seqs: number[]): CandidateRow[] {
  if (seqs.length === 0) return [];
  return db
    .query<CandidateRow, [string]>("SELECT seq, customer_id, vector, terms FROM points WHERE seq IN (SELECT value FROM json_each(?))")
    .all(JSON.stringify(seqs));
}

/** The filter as SQL over `points` (appended to a WHERE clause). */
export function filterSql(filter: MemoryFilter): { where: string; args: SQLQueryBindings[] } {
  let where = "";
  const args: SQLQueryBindings[] = [];
  if (filter.stages) {
    where += ` AND stage IN (${filter.stages.map(() => "?").join(",")})`;
    args.push(...filter.stages);
  }
  if (filter.types) {
    where += ` AND type IN (${filter.types.map(() => "?").join(",")})`;
    args.push(...filter.types);
  }
  if (filter.since !== undefined) {
    where += " AND ts >= ?";
    args.push(filter.since);
  }
  if (filter.until !== undefined) {
    where += " AND ts < ?";
    args.push(filter.until);
  }
  return { where, args };
}

export function hasFilter(filter: MemoryFilter): boolean {
  return filter.types !== undefined || filter.stages !== undefined || filter.since !== undefined || filter.until !== undefined;
}

export function dot(blob: Uint8Array, q: Float32Array): number {
  const v = floats(blob, q.length);
  let s = 0;
  for (let i = 0; i < q.length; i++) s += v[i]! * q[i]!;
  return s;
}

/** A Float32 view of a vector blob (copied when SQLite hands it over unaligned). */
export function floats(blob: Uint8Array, dimensions: number): Float32Array {
  return blob.byteOffset % 4 === 0 ? new Float32Array(blob.buffer, blob.byteOffset, dimensions) : new Float32Array(blob.slice().buffer, 0, dimensions);
}

export function bytes(a: Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export const splitTerms = (terms: string): string[] => (terms ? terms.split(" ") : []);
export const countTerms = (terms: string): number => splitTerms(terms).length;

export function readCounter(db: Database, name: string): number {
  return db.query<{ value: number }, [string]>("SELECT value FROM counters WHERE name = ?").get(name)?.value ?? 0;
}

export function addCounter(db: Database, name: string, delta: number): number {
  return db
    .query<{ value: number }, [string, number]>(
      "INSERT INTO counters (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = value + ?2 RETURNING value",
    )
    .get(name, delta)!.value;
}

export const lastChange = (db: Database): number => db.query<{ n: number }, []>("SELECT coalesce(max(seq), 0) AS n FROM changes").get()!.n;

export function dataVersion(db: Database): number {
  return db.query<{ data_version: number }, []>("PRAGMA data_version").get()!.data_version;
}
