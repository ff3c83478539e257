import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Mapping } from "./mapping";
import { readRows, type Row } from "./read-rows";

/**
 * One unit of a grouped input, in an order that is the same on every run: all rows of a group
 * (wherever they are in the input's files), a row without a group key, or a row refused before
 * mapping (unreadable, or rejected by the mapping's join or filter).
 */
export type InputUnit = { seq: number; file: string; rows: Row[] } | { seq: number; file: string; bad: { line: number; text: string; reason: string } };

export type GroupingOptions = {
  files: string[];
  mapping: Mapping;
  /**
   * Input bytes grouped in memory. A larger input is spread over `buckets` temporary files by a
   * hash of the group key, and each is grouped in memory in turn: memory stays bounded.
   */
  buckets: number;
  /** Where bucket files go (removed at the end). @defaultValue the system's temp folder */
  tmpDir?: string;
  onBytes?: (bytesRead: number) => void;
  /** A row the mapping's filter left out. */
  onFiltered?: () => void;
};

/** Buckets needed to group `totalBytes` of input with at most `memoryBytes` of it in memory. */
export const bucketsFor = (totalBytes: number, memoryBytes: number) => Math.max(1, Math.ceil(totalBytes / memoryBytes));

/** FNV-1a (32 bit): a key lands in the same bucket on every run and every version, so a resumed import sees the same order. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A row as kept while grouping: [file index, line, text, fields (csv) or null (json), refusal or null]. */
type Kept = [number, number, string, string[] | null, string | null];

const FLUSH_CHARS = 1 << 20;

/**
 * The units of a grouped input, in a deterministic order: with one bucket, groups in the order
 * of their first row; with more, bucket by bucket, each in the order of its groups' first rows.
 * Every row of the input is in exactly one unit, except rows the filter left out (counted).
 */
export async function* groupedUnits(opts: GroupingOptions): AsyncGenerator<InputUnit> {
  const { mapping, files } = opts;
  const keyOf = mapping.group!.key;
  const columnsOf: string[][] = [];
  const isJson = mapping.reader.format === "jsonl";
  const spill = opts.buckets > 1 ? mkdtempSync(join(opts.tmpDir ?? tmpdir(), "lifeline-import-groups-")) : undefined;
  const inMemory = new Map<string, Kept[]>();
  const pending: string[][] = Array.from({ length: spill ? opts.buckets : 0 }, () => []);
  const pendingChars = new Array<number>(pending.length).fill(0);
  const bucketFile = (b: number) => join(spill!, `${b}.jsonl`);
  const flush = (b: number) => {
    if (!pending[b]!.length) return;
    appendFileSync(bucketFile(b), pending[b]!.join(""));
    pending[b] = [];
    pendingChars[b] = 0;
  };
  const keep = (key: string, kept: Kept) => {
    if (!spill) {
      const list = inMemory.get(key);
      if (list) list.push(kept);
      else inMemory.set(key, [kept]);
      return;
    }
    const b = fnv1a(key) % opts.buckets;
    const line = `${JSON.stringify([key, ...kept])}\n`;
    pending[b]!.push(line);
    pendingChars[b]! += line.length;
    if (pendingChars[b]! > FLUSH_CHARS) flush(b);
  };

  try {
    let bytesBefore = 0;
    for (const [f, file] of files.entries()) {
      let lastBytes = 0;
      for await (const item of readRows(file, mapping.reader, (n) => opts.onBytes?.(bytesBefore + (lastBytes = n)))) {
        // Refused rows and rows without a key are units of their own.
        const own = `\u0001${f}:${item.line}`;
        if (!item.ok) {
          keep(own, [f, item.line, item.text, null, item.error]);
          continue;
        }
        columnsOf[f] ??= isJson ? [] : Object.keys(item.record);
        const prepared = mapping.prepare ? mapping.prepare(item) : item;
        if (prepared === "filtered") {
          opts.onFiltered?.();
          continue;
        }
        const values = isJson ? null : item.values;
        if ("reject" in prepared) keep(own, [f, item.line, item.text, values, prepared.reject]);
        else keep(keyOf(prepared) ?? own, [f, item.line, item.text, values, null]);
      }
      bytesBefore += lastBytes;
    }

    let seq = 0;
    const unitOf = (kept: Kept[]): InputUnit => {
      const [f, line, text, , refusal] = kept[0]!;
      if (refusal !== null) return { seq: seq++, file: files[f]!, bad: { line, text, reason: refusal } };
      const rows = kept.map(([fi, l, t, values]) => {
        const record: Record<string, unknown> = values ? Object.fromEntries(columnsOf[fi]!.map((c, i) => [c, values[i]])) : JSON.parse(t);
        const row: Row = { file: files[fi]!, line: l, text: t, record, values: values ?? [] };
        // Joined lookup rows are added again here rather than kept (they may be large).
        const prepared = mapping.prepare ? mapping.prepare(row) : row;
        return typeof prepared === "object" && !("reject" in prepared) ? prepared : row;
      });
      return { seq: seq++, file: files[f]!, rows };
    };
    if (!spill) {
      for (const kept of inMemory.values()) yield unitOf(kept);
      return;
    }
    pending.forEach((_, b) => flush(b));
    for (let b = 0; b < opts.buckets; b++) {
      const groups = new Map<string, Kept[]>();
      let textOf = "";
      try {
        textOf = readFileSync(bucketFile(b), "utf8");
      } catch {
        continue; // no key fell into this bucket
      }
      for (const line of textOf.split("\n")) {
        if (!line) continue;
        const [key, ...kept] = JSON.parse(line) as [string, ...Kept];
        const list = groups.get(key);
        if (list) list.push(kept as Kept);
        else groups.set(key, [kept as Kept]);
      }
      textOf = "";
      for (const kept of groups.values()) yield unitOf(kept);
    }
  } finally {
    if (spill) rmSync(spill, { recursive: true, force: true });
  }
}
