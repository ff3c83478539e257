import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import usearch from "usearch";
import { lifecycleStages, type MemoryFilter, type MemoryStage } from "./memory-store";

/**
 * The global-search side of the embedded memory, held once per machine: two files beside the
 * SQLite file, memory-mapped shared by every process, indexed by point seq.
 *
 * - `<memory>.codes`: each point's unit vector as Int8 codes (x · 127), `dimensions` bytes at
 *   seq · dimensions. A native SIMD inner-product scan of the codes finds candidates, which the
 *   store then rescores exactly from the Float32 vectors in SQLite.
 * - `<memory>.meta`: 16 bytes per seq (f64 event time, u16 type id, u8 stage, u8 alive), so
 *   filters are evaluated without reading SQLite.
 *
 * Writers write both inside their SQLite write transaction (so files and database change under
 * the same lock) before it commits, and readers never look past the committed max(seq). A
 * writer that dies before its commit leaves codes under a seq SQLite gives to the next insert,
 * which overwrites them. The files are a cache of SQLite: `rebuild` makes them again.
 */
export const META_BYTES = 16;
const FILE_SUFFIXES = [".codes", ".meta"] as const;
const GROW_ROWS = 65_536;
const stageIndex = new Map<MemoryStage, number>(lifecycleStages.map((s, i) => [s, i]));

export type VectorFileRow = { seq: number; unit: Float32Array; ts: number; typeId: number; stage: MemoryStage };

export class VectorFile {
  private codesFd: number;
  private metaFd: number;
  private codes = new Int8Array(0);
  private meta = new Uint8Array(0);
  private metaTs = new Float64Array(0);
  private metaType = new Uint16Array(0);
  private capacityRows = 0;

  constructor(
    readonly basePath: string,
    readonly dimensions: number,
  ) {
    this.codesFd = openSync(`${basePath}.codes`, existsSync(`${basePath}.codes`) ? "r+" : "w+");
    this.metaFd = openSync(`${basePath}.meta`, existsSync(`${basePath}.meta`) ? "r+" : "w+");
  }

  static exists(basePath: string): boolean {
    return existsSync(`${basePath}.codes`) && existsSync(`${basePath}.meta`);
  }

  /** Rows the files at `basePath` hold room for. */
  static rowsOf(basePath: string, dimensions: number): number {
    const file = new VectorFile(basePath, dimensions);
    try {
      return file.rows;
    } finally {
      file.close();
    }
  }

  static remove(basePath: string): void {
    for (const suffix of FILE_SUFFIXES) rmSync(basePath + suffix, { force: true });
  }

  /** Moves the files with their memory (reembed renames the SQLite file). */
  static rename(fromBase: string, toBase: string): void {
    for (const suffix of FILE_SUFFIXES) if (existsSync(fromBase + suffix)) renameSync(fromBase + suffix, toBase + suffix);
  }

  /** Rows the files hold room for (at least every committed seq + 1 once a writer has written). */
  get rows(): number {
    return Math.min(fstatSync(this.codesFd).size / this.dimensions, fstatSync(this.metaFd).size / META_BYTES);
  }

  /** Writer side, inside the write transaction: one write per run of consecutive seqs. */
  write(rows: VectorFileRow[]): void {
    if (rows.length === 0) return;
    this.ensureRows(Math.max(...rows.map((r) => r.seq)) + 1);
    const sorted = [...rows].sort((a, b) => a.seq - b.seq);
    for (let start = 0; start < sorted.length; ) {
      let end = start + 1;
      while (end < sorted.length && sorted[end]!.seq === sorted[end - 1]!.seq + 1) end++;
      this.writeRun(sorted.slice(start, end));
      start = end;
    }
  }

  private writeRun(run: VectorFileRow[]): void {
    const d = this.dimensions;
    const codes = new Int8Array(run.length * d);
    const meta = new Uint8Array(run.length * META_BYTES);
    const record = new DataView(meta.buffer);
    run.forEach((r, i) => {
      for (let j = 0; j < d; j++) codes[i * d + j] = Math.max(-127, Math.min(127, Math.round(r.unit[j]! * 127)));
      const o = i * META_BYTES;
      record.setFloat64(o, r.ts, true);
      record.setUint16(o + 8, r.typeId, true);
      record.setUint8(o + 10, stageIndex.get(r.stage)!);
      record.setUint8(o + 11, 1);
    });
    writeSync(this.codesFd, codes, 0, codes.length, run[0]!.seq * d);
    writeSync(this.metaFd, meta, 0, meta.length, run[0]!.seq * META_BYTES);
  }

  /** Writer side: zeroes the codes and the record of removed points (erasure leaves nothing behind). */
  erase(seqs: Iterable<number>): void {
    const zeros = new Uint8Array(Math.max(this.dimensions, META_BYTES));
    const rows = this.rows;
    for (const seq of seqs) {
      if (seq >= rows) continue;
      writeSync(this.codesFd, zeros, 0, this.dimensions, seq * this.dimensions);
      writeSync(this.metaFd, zeros, 0, META_BYTES, seq * META_BYTES);
    }
  }

  private ensureRows(wanted: number): void {
    const rows = this.rows;
    if (wanted <= rows) return;
    const next = Math.max(wanted, Math.ceil((rows * 1.5) / GROW_ROWS) * GROW_ROWS, GROW_ROWS);
    ftruncateSync(this.codesFd, next * this.dimensions);
    ftruncateSync(this.metaFd, next * META_BYTES);
  }

  /** Maps the files again when they have grown past what this process mapped. */
  private mapped(rowsWanted: number): void {
    if (rowsWanted <= this.capacityRows) return;
    const rows = this.rows;
    if (rows === 0) return;
    // Shared read-only mappings: every process reads the same page-cache pages.
    const codes = Bun.mmap(`${this.basePath}.codes`, { shared: true });
    const meta = Bun.mmap(`${this.basePath}.meta`, { shared: true });
    this.capacityRows = Math.min(rows, codes.byteLength / this.dimensions, meta.byteLength / META_BYTES);
    this.codes = new Int8Array(codes.buffer, codes.byteOffset, this.capacityRows * this.dimensions);
    this.meta = meta;
    this.metaTs = new Float64Array(meta.buffer, meta.byteOffset, (this.capacityRows * META_BYTES) / 8);
    this.metaType = new Uint16Array(meta.buffer, meta.byteOffset, (this.capacityRows * META_BYTES) / 2);
  }

  /**
   * The best `limit` candidate seqs among seq ≤ maxSeq that pass `filter`, by approximate
   * (Int8) inner product: the caller rescores them exactly. `typeIds` maps type names to ids.
   */
  candidates(query: Float32Array, maxSeq: number, filter: MemoryFilter, typeIds: (name: string) => number | undefined, limit: number): number[] {
    const rows = maxSeq + 1;
    this.mapped(rows);
    const scanned = Math.min(rows, this.capacityRows);
    if (scanned <= 1) return [];
    const q = queryCodes(query);
    const matches = compileFilter(filter, typeIds, this.meta, this.metaTs, this.metaType);
    if (!matches.isRestrictive) return this.scan(this.codes, scanned, q, limit, (row) => row).filter((seq) => this.meta[seq * META_BYTES + 11] === 1);
    const matching: number[] = [];
    for (let seq = 1; seq < scanned; seq++) if (matches(seq)) matching.push(seq);
    if (matching.length === 0) return [];
    // Few matches: scan just their codes. Many: oversample the whole scan and filter.
    if (matching.length <= GATHER_MAX) return this.gatheredScan(matching, q, limit);
    const wanted = Math.min(scanned, Math.ceil((limit * scanned * 2) / matching.length) + 50);
    const hits = this.scan(this.codes, scanned, q, wanted, (row) => row).filter(matches);
    return hits.length >= limit ? hits.slice(0, limit) : this.gatheredScan(matching, q, limit);
  }

  private gatheredScan(seqs: number[], q: Int8Array, limit: number): number[] {
    const d = this.dimensions;
    // exactSearch reads a buffer from its start, so the gathered copy gets its own buffer.
    const gathered = new Int8Array(seqs.length * d);
    seqs.forEach((seq, i) => gathered.set(this.codes.subarray(seq * d, (seq + 1) * d), i * d));
    return this.scan(gathered, seqs.length, q, limit, (i) => seqs[i]!);
  }

  private scan(data: Int8Array, rows: number, q: Int8Array, limit: number, toSeq: (row: number) => number): number[] {
    const k = Math.min(limit, rows);
    if (k === 0) return [];
    const result = usearch.exactSearch(data.subarray(0, rows * this.dimensions), q, this.dimensions, k, usearch.MetricKind.IP, 1);
    if (!(result instanceof usearch.Matches)) throw new Error("exactSearch: expected one result row");
    const out: number[] = [];
    for (let i = 0; i < k; i++) out.push(toSeq(Number(result.keys[i]!)));
    return out;
  }

  close(): void {
    closeSync(this.codesFd);
    closeSync(this.metaFd);
    this.codes = new Int8Array(0);
    this.meta = new Uint8Array(0);
    this.capacityRows = 0;
  }
}

// Below this many filter matches a scan of just their codes beats oversampling the full scan
// (gathering is a JS copy per row; the full scan is one native pass). At 1M points a 10% filter
// took 210-390 ms through gathering (bench:memory, loaded machine).
const GATHER_MAX = 20_000;

/** The query as codes scaled to its own largest component: the scale does not change the ranking. */
function queryCodes(query: Float32Array): Int8Array {
  let max = 0;
  for (const x of query) max = Math.max(max, Math.abs(x));
  const q = new Int8Array(query.length);
  if (max > 0) for (let i = 0; i < query.length; i++) q[i] = Math.round((query[i]! / max) * 127);
  return q;
}

type SeqFilter = ((seq: number) => boolean) & { isRestrictive: boolean };

function compileFilter(
  filter: MemoryFilter,
  typeIds: (name: string) => number | undefined,
  meta: Uint8Array,
  ts: Float64Array,
  types: Uint16Array,
): SeqFilter {
  let typeSet: Set<number> | undefined;
  if (filter.types) typeSet = new Set(filter.types.map(typeIds).filter((id): id is number => id !== undefined));
  let stageBits = 0xff;
  if (filter.stages) stageBits = filter.stages.reduce((bits, s) => bits | (1 << stageIndex.get(s)!), 0);
  const since = filter.since ?? -Infinity;
  const until = filter.until ?? Infinity;
  const isRestrictive = filter.types !== undefined || filter.stages !== undefined || filter.since !== undefined || filter.until !== undefined;
  const matches = (seq: number) => {
    const o = seq * META_BYTES;
    if (meta[o + 11] !== 1) return false;
    const t = ts[o / 8]!;
    return t >= since && t < until && (typeSet === undefined || typeSet.has(types[o / 2 + 4]!)) && ((1 << meta[o + 10]!) & stageBits) !== 0;
  };
  return Object.assign(matches, { isRestrictive });
}
