import { appendFileSync, mkdirSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { BatchTooLargeError, type ApiClient, type BatchResult } from "./api-client";
import { loadCheckpoint, saveCheckpoint, type Checkpoint } from "./checkpoint";
import { bucketsFor, groupedUnits } from "./group-rows";
import type { LagProbe } from "./lag-probe";
import type { ImportEvent, Mapping, UnitOutcome } from "./mapping";
import { createProgress, emptyStats, type ImportStats } from "./progress";
import { readRows, type Row } from "./read-rows";

export type ImportOptions = {
  mapping: Mapping;
  files: string[];
  /** Absent with dryRun. */
  api?: ApiClient;
  checkpointPath?: string;
  rejectsPath: string;
  /** Good lines left out by a size limit. @defaultValue beside rejectsPath, `.omitted.jsonl` */
  omittedPath?: string;
  /** Grouped mappings: input bytes grouped in memory; a larger input is grouped bucket by bucket through temporary files. @defaultValue 64 MiB */
  groupMemoryBytes?: number;
  /** Batches in flight at once. @defaultValue 4 */
  concurrency?: number;
  /** Events per request (the API takes 2,500 at most). @defaultValue 500 */
  batchSize?: number;
  /** Request body bytes (the API takes 500 KB at most). @defaultValue 450 KiB */
  maxBatchBytes?: number;
  /** Read at most this many rows in this run. */
  limit?: number;
  /** Only events at or after / before these instants; others are counted as skipped. */
  sinceMs?: number;
  untilMs?: number;
  /** Only events this accepts are sent; the others are counted as skipped (the eval's customer sample). */
  keep?: (event: ImportEvent) => boolean;
  dryRun?: boolean;
  lag?: LagProbe;
  showProgress?: boolean;
  signal?: AbortSignal;
  /** Dry run: receives each event that would be sent. */
  onEvent?: (event: ImportEvent, file: string, line: number) => void;
};

export type ImportSummary = ImportStats & { seconds: number; eventsPerSecond: number; lagWaits: number; isComplete: boolean };

type Item = { file: string; line: number; event: ImportEvent; json: string; bytes: number };
/** A point the checkpoint may move to once every batch up to the one carrying it is acknowledged. */
type Marker = { file: string; line: number; done?: boolean } | { units: number; buckets: number; done: boolean };
type Batch = { seq: number; items: Item[]; bytes: number; markers: Marker[] };

const BATCH_OVERHEAD_BYTES = 16;

/** Reads files through a mapping and sends the events to the API; see docs/bring-your-own-data.md. */
export async function runImport(opts: ImportOptions): Promise<ImportSummary> {
  const { mapping } = opts;
  const concurrency = opts.concurrency ?? 4;
  const batchSize = opts.batchSize ?? 500;
  const maxBatchBytes = opts.maxBatchBytes ?? 450 * 1024;
  const stats = emptyStats();
  const cp: Checkpoint = opts.dryRun ? loadCheckpoint(undefined, mapping.name) : loadCheckpoint(opts.checkpointPath, mapping.name);
  const startedAt = Date.now();
  let lagWaits = 0;
  await mapping.init?.();

  const sizes = new Map(opts.files.map((f) => [f, statSync(f).size]));
  const totalBytes = [...sizes.values()].reduce((a, b) => a + b, 0);
  const doneBytes = opts.files.filter((f) => cp.files[f]?.done).reduce((a, f) => a + sizes.get(f)!, 0);
  const progress = createProgress(stats, { totalBytes, doneBytes, isEnabled: opts.showProgress ?? false });
  progress.start();

  mkdirSync(dirname(opts.rejectsPath), { recursive: true });
  const omittedPath = opts.omittedPath ?? opts.rejectsPath.replace(/(\.rejects)?(\.jsonl)?$/, ".omitted.jsonl");
  type Record = { file: string; line: number; reason: string; row: unknown };
  const append = (path: string, records: Record[]) => records.length && appendFileSync(path, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const writeRejects = (records: Record[]) => {
    stats.rejected += records.length;
    append(opts.rejectsPath, records);
  };
  const writeOmitted = (records: Record[]) => {
    stats.omitted += records.length;
    append(omittedPath, records);
  };

  // --- checkpoint: advances over the longest run of acknowledged batches ----------------------
  const ackedMarkers = new Map<number, Marker[]>();
  let nextToCommit = 0;
  const commit = (seq: number, markers: Marker[]) => {
    ackedMarkers.set(seq, markers);
    let moved = false;
    while (ackedMarkers.has(nextToCommit)) {
      for (const m of ackedMarkers.get(nextToCommit)!) {
        if ("units" in m) cp.groups = { units: m.units, buckets: m.buckets, done: m.done };
        else cp.files[m.file] = { line: m.line, done: Boolean(m.done) };
        moved = true;
      }
      ackedMarkers.delete(nextToCommit++);
    }
    if (moved && opts.checkpointPath && !opts.dryRun) saveCheckpoint(opts.checkpointPath, cp);
  };

  // --- sending -------------------------------------------------------------------------------
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let seq = 0;
  let batch: Batch = { seq: seq++, items: [], bytes: BATCH_OVERHEAD_BYTES, markers: [] };
  let lastLagCheck = 0;

  async function sendItems(items: Item[]): Promise<BatchResult> {
    const body = `{"batch":[${items.map((i) => i.json).join(",")}]}`;
    try {
      return await opts.api!.sendBatch(items.map((i) => i.event), body);
    } catch (err) {
      if (!(err instanceof BatchTooLargeError)) throw err;
      if (items.length === 1) return { accepted: 0, duplicates: 0, rejected: [{ index: 0, messageId: items[0]!.event.messageId, errors: [{ path: "", message: `too large for the API: ${err.message}` }] }] };
      const half = Math.ceil(items.length / 2);
      const [a, b] = [await sendItems(items.slice(0, half)), await sendItems(items.slice(half))];
      return { accepted: a.accepted + b.accepted, duplicates: a.duplicates + b.duplicates, rejected: [...a.rejected, ...b.rejected.map((r) => ({ ...r, index: r.index + half }))] };
    }
  }

  async function deliver(b: Batch): Promise<void> {
    if (b.items.length && !opts.dryRun) {
      const r = await sendItems(b.items);
      stats.accepted += r.accepted;
      stats.duplicates += r.duplicates;
      stats.batches++;
      writeRejects(
        r.rejected.map((x) => {
          const item = b.items[x.index];
          return {
            file: item?.file ?? "?",
            line: item?.line ?? 0,
            reason: `rejected by the API: ${x.errors.map((e) => `${e.path || "(event)"}: ${e.message}`).join("; ")}`,
            row: item?.event,
          };
        }),
      );
    }
    commit(b.seq, b.markers);
  }

  async function waitForPipeline() {
    if (!opts.lag || Date.now() - lastLagCheck < 250) return;
    for (;;) {
      const verdict = await opts.lag.check();
      lastLagCheck = Date.now();
      if (!verdict.wait) break;
      lagWaits++;
      progress.setStatus(`waiting: ${verdict.reason}`);
      await Bun.sleep(verdict.ms);
    }
    progress.setStatus("");
  }

  async function dispatch() {
    const b = batch;
    batch = { seq: seq++, items: [], bytes: BATCH_OVERHEAD_BYTES, markers: [] };
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (failure) throw failure;
    if (b.items.length && !opts.dryRun) await waitForPipeline();
    const p: Promise<void> = deliver(b)
      .catch((err) => void (failure ??= err))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }

  async function add(item: Item) {
    if (batch.items.length && (batch.items.length >= batchSize || batch.bytes + item.bytes + 1 > maxBatchBytes)) await dispatch();
    batch.items.push(item);
    batch.bytes += item.bytes + 1;
  }

  // --- reading -------------------------------------------------------------------------------
  const inWindow = (e: ImportEvent) => {
    const t = Date.parse(e.timestamp);
    return (opts.sinceMs === undefined || t >= opts.sinceMs) && (opts.untilMs === undefined || t < opts.untilMs) && (opts.keep?.(e) ?? true);
  };

  async function take(file: string, outcome: UnitOutcome) {
    const record = (r: UnitOutcome["rejects"][number]) => ({ file: r.file ?? file, line: r.line, reason: r.reason, row: r.text });
    writeRejects(outcome.rejects.filter((r) => !r.omitted).map(record));
    writeOmitted(outcome.rejects.filter((r) => r.omitted).map(record));
    for (const { line, event } of outcome.events) {
      if (!inWindow(event)) {
        stats.skipped++;
        continue;
      }
      stats.events++;
      opts.onEvent?.(event, file, line);
      const json = JSON.stringify(event);
      await add({ file, line, event, json, bytes: Buffer.byteLength(json) });
    }
  }

  let isComplete = true;
  let bytesBefore = doneBytes;
  const stopped = () => failure !== undefined || opts.signal?.aborted || (opts.limit !== undefined && stats.rows >= opts.limit);
  try {
    if (mapping.group) isComplete = await importGrouped();
    else for (const file of opts.files) {
      const state = cp.files[file];
      if (state?.done) continue;
      if (stopped()) {
        isComplete = false;
        break;
      }
      const reachedEnd = await importFile(file, state?.line ?? 0);
      if (!reachedEnd) {
        isComplete = false;
        break;
      }
      bytesBefore += sizes.get(file)!;
    }
    await dispatch();
    await Promise.all(inFlight);
    if (failure) throw failure;
  } finally {
    await Promise.allSettled(inFlight);
    progress.stop();
  }

  /** Imports one file of an ungrouped mapping from after `fromLine`; false when stopped before its end. */
  async function importFile(file: string, fromLine: number): Promise<boolean> {
    let lastLine = fromLine;
    const mark = () => {
      const last = batch.markers.at(-1);
      if (last && "file" in last && last.file === file && !last.done) last.line = lastLine;
      else batch.markers.push({ file, line: lastLine });
    };
    for await (const item of readRows(file, mapping.reader, (n) => progress.bytesRead(bytesBefore + n))) {
      if (item.line <= fromLine) continue;
      if (stopped()) break;
      stats.rows++;
      lastLine = item.line;
      if (!item.ok) writeRejects([{ file, line: item.line, reason: item.error, row: item.text }]);
      else {
        const prepared = mapping.prepare ? mapping.prepare(item) : item;
        if (prepared === "filtered") stats.filtered++;
        else if ("reject" in prepared) writeRejects([{ file, line: item.line, reason: prepared.reject, row: item.text }]);
        else await take(file, mapping.map([prepared]));
      }
      mark();
    }
    const reachedEnd = !stopped() || (opts.limit !== undefined && !opts.signal?.aborted && failure === undefined && (await isAtEnd(file, lastLine)));
    batch.markers.push({ file, line: lastLine, done: reachedEnd });
    return reachedEnd;
  }

  /**
   * A grouped mapping: every row of a group, wherever it is in the input, goes into one event
   * (group-rows.ts); the checkpoint counts units. False when stopped before the last unit.
   */
  async function importGrouped(): Promise<boolean> {
    if (cp.groups?.done) return true;
    const buckets = cp.groups?.buckets ?? bucketsFor(totalBytes, opts.groupMemoryBytes ?? 64 * 1024 * 1024);
    const from = cp.groups?.units ?? 0;
    let done = from;
    const units = groupedUnits({ files: opts.files, mapping, buckets, onBytes: (n) => progress.bytesRead(n), onFiltered: () => (stats.filtered++, stats.rows++) });
    for await (const unit of units) {
      if (unit.seq < from) continue;
      if (stopped()) {
        await units.return(undefined);
        batch.markers.push({ units: done, buckets, done: false });
        return false;
      }
      if ("bad" in unit) {
        stats.rows++;
        writeRejects([{ file: unit.file, line: unit.bad.line, reason: unit.bad.reason, row: unit.bad.text }]);
      } else {
        stats.rows += unit.rows.length;
        await take(unit.file, mapping.map(unit.rows));
      }
      done = unit.seq + 1;
      const last = batch.markers.at(-1);
      if (last && "units" in last) last.units = done;
      else batch.markers.push({ units: done, buckets, done: false });
    }
    batch.markers.push({ units: done, buckets, done: true });
    return true;
  }

  /** After a --limit stop: whether nothing but blank lines follows `line`. */
  async function isAtEnd(file: string, line: number): Promise<boolean> {
    for await (const item of readRows(file, mapping.reader)) if (item.line > line) return false;
    return true;
  }

  const seconds = (Date.now() - startedAt) / 1000;
  return { ...stats, seconds, eventsPerSecond: Math.round((stats.accepted + stats.duplicates) / Math.max(seconds, 0.001)), lagWaits, isComplete };
}
