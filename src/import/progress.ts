/** Counters of one import run. */
export type ImportStats = {
  rows: number;
  events: number;
  accepted: number;
  duplicates: number;
  /** Lines that could not be used (reject file). */
  rejected: number;
  /** Good lines left out of an event by a size limit (omitted file), apart from rejected ones. */
  omitted: number;
  /** Lines the mapping's filter left out. */
  filtered: number;
  /** Events outside --since/--until. */
  skipped: number;
  batches: number;
};

export const emptyStats = (): ImportStats => ({ rows: 0, events: 0, accepted: 0, duplicates: 0, rejected: 0, omitted: 0, filtered: 0, skipped: 0, batches: 0 });

export type ProgressOptions = {
  totalBytes: number;
  /** Bytes already done before this run (files finished in an earlier run). */
  doneBytes?: number;
  stream?: { write(s: string): unknown; isTTY?: boolean };
  /** Redraw interval on a terminal; elsewhere a line every `logEveryMs`. */
  redrawMs?: number;
  logEveryMs?: number;
  isEnabled?: boolean;
};

const WIDTH = 24;

/** A one-line progress bar on stderr: rows, events/s, ETA from the bytes read. */
export function createProgress(stats: ImportStats, opts: ProgressOptions) {
  const out = opts.stream ?? process.stderr;
  const isTTY = Boolean(out.isTTY);
  const startedAt = Date.now();
  const startBytes = opts.doneBytes ?? 0;
  let bytes = startBytes;
  let status = "";
  let lastDraw = 0;
  let timer: ReturnType<typeof setInterval> | undefined;

  const line = () => {
    const seconds = Math.max(0.001, (Date.now() - startedAt) / 1000);
    const fraction = opts.totalBytes ? Math.min(1, bytes / opts.totalBytes) : 0;
    const rate = (stats.accepted + stats.duplicates) / seconds;
    const byteRate = (bytes - startBytes) / seconds;
    const eta = byteRate > 0 ? (opts.totalBytes - bytes) / byteRate : Infinity;
    const filled = Math.round(fraction * WIDTH);
    return (
      `[${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${(fraction * 100).toFixed(1)}% ` +
      `rows ${stats.rows} · events ${stats.accepted} new ${stats.duplicates} dup ${stats.rejected} rejected ${stats.skipped} skipped · ` +
      `${Math.round(rate)} ev/s · ETA ${formatSeconds(eta)}${status ? ` · ${status}` : ""}`
    );
  };

  const draw = (force = false) => {
    if (opts.isEnabled === false) return;
    const now = Date.now();
    if (!force && now - lastDraw < (isTTY ? (opts.redrawMs ?? 200) : (opts.logEveryMs ?? 5_000))) return;
    lastDraw = now;
    out.write(isTTY ? `\r\x1b[2K${line()}` : `${line()}\n`);
  };

  return {
    start() {
      if (opts.isEnabled !== false) timer = setInterval(() => draw(), isTTY ? (opts.redrawMs ?? 200) : (opts.logEveryMs ?? 5_000));
    },
    bytesRead(total: number) {
      bytes = total;
    },
    /** A passing condition shown after the counters ("waiting: backlog …"); "" clears it. */
    setStatus(s: string) {
      status = s;
    },
    stop() {
      if (timer) clearInterval(timer);
      draw(true);
      if (isTTY && opts.isEnabled !== false) out.write("\n");
    },
  };
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "--:--";
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return h ? `${h}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}` : `${m}:${String(sec).padStart(2, "0")}`;
}
