import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

/** How the rows of a file are laid out. */
export type ReaderOptions =
  | { format: "csv"; delimiter?: string; header?: boolean; columns?: string[] }
  | { format: "whitespace"; header?: boolean; columns?: string[] }
  | { format: "jsonl" };

/** One row of an input file: its first line number (1-based), its text, and its fields. */
export type Row = {
  file: string;
  line: number;
  text: string;
  /** Named fields: CSV/whitespace columns by header or `columns`, or the JSON object of a JSONL line. */
  record: Record<string, unknown>;
  /** The fields in file order (CSV/whitespace only). */
  values: string[];
};

/** A row the reader could not parse (bad JSON, wrong field count, unclosed quote). */
export type BadRow = { file: string; line: number; text: string; error: string };

export type ReadItem = ({ ok: true } & Row) | ({ ok: false } & BadRow);

const GLOB_CHARS = /[*?[{]/;

/**
 * The files an input names: the file itself, the files of a folder (sorted by name, hidden files
 * left out, only `extensions` when given), or the matches of a glob (sorted).
 */
export function listInputFiles(input: string, extensions: string[] = []): string[] {
  const wanted = (name: string) => !name.startsWith(".") && (extensions.length === 0 || extensions.some((ext) => name.toLowerCase().endsWith(`.${ext}`)));
  if (GLOB_CHARS.test(input)) {
    const files = [...new Bun.Glob(input).scanSync({ absolute: true, onlyFiles: true })];
    return files.sort();
  }
  const path = resolve(input);
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) throw new Error(`no such file or folder: ${input}`);
  if (stat.isFile()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .filter((d) => d.isFile() && wanted(d.name))
    .map((d) => join(path, d.name))
    .sort();
}

/**
 * Splits CSV text into records, streaming: quoted fields may hold the delimiter, doubled quotes
 * and line breaks (a record then spans several lines; it is numbered by its first line).
 * CRLF and LF both end a record.
 */
export class CsvSplitter {
  private pending = "";
  private line = 1;
  constructor(private readonly delimiter = ",") {}

  /** Complete records in `chunk` (plus what was pending); an incomplete tail waits for the next chunk. */
  push(chunk: string): Array<{ line: number; text: string; values: string[] } | { line: number; text: string; error: string }> {
    this.pending += chunk;
    return this.drain(false);
  }

  /** The last record when the file does not end with a line break. */
  end() {
    return this.drain(true);
  }

  private drain(isEnd: boolean) {
    const out: Array<{ line: number; text: string; values: string[] } | { line: number; text: string; error: string }> = [];
    const s = this.pending;
    let pos = 0;
    while (pos < s.length) {
      const nl = s.indexOf("\n", pos);
      if (nl === -1 && !isEnd) break;
      const lineEnd = nl === -1 ? s.length : nl;
      const simple = s.slice(pos, lineEnd);
      if (!simple.includes('"')) {
        const text = simple.endsWith("\r") ? simple.slice(0, -1) : simple;
        if (text.length > 0) out.push({ line: this.line, text, values: text.split(this.delimiter) });
        this.line++;
        pos = lineEnd + 1;
        continue;
      }
      const quoted = this.parseQuoted(s, pos, isEnd);
      if (!quoted) break; // record continues in the next chunk
      out.push(quoted.record);
      this.line += quoted.lines;
      pos = quoted.next;
    }
    this.pending = s.slice(pos);
    return out;
  }

  private parseQuoted(s: string, start: number, isEnd: boolean) {
    const values: string[] = [];
    let field = "";
    let inQuotes = false;
    let lines = 1;
    let i = start;
    const d = this.delimiter;
    for (; i < s.length; i++) {
      const c = s[i]!;
      if (inQuotes) {
        if (c === '"') {
          if (s[i + 1] === '"') {
            field += '"';
            i++;
          } else if (i + 1 === s.length && !isEnd) return undefined; // can't tell "" from " yet
          else inQuotes = false;
        } else {
          if (c === "\n") lines++;
          field += c;
        }
      } else if (c === '"' && field.length === 0) inQuotes = true;
      else if (c === d) {
        values.push(field);
        field = "";
      } else if (c === "\n") break;
      else if (c === "\r" && s[i + 1] === "\n") continue;
      else field += c;
    }
    const line = this.line;
    if (i === s.length && !isEnd) return undefined;
    let text = s.slice(start, i);
    if (text.endsWith("\r")) text = text.slice(0, -1);
    if (inQuotes) return { record: { line, text, error: "unclosed quote: a quoted field runs to the end of the file" }, lines, next: i + 1 };
    values.push(field);
    return { record: { line, text, values }, lines, next: i + 1 };
  }
}

/** Splits text into lines, streaming, numbering them from 1; empty lines are counted, not returned. */
class LineSplitter {
  private pending = "";
  private line = 1;
  push(chunk: string, isEnd = false): Array<{ line: number; text: string }> {
    this.pending += chunk;
    const out: Array<{ line: number; text: string }> = [];
    let pos = 0;
    for (;;) {
      const nl = this.pending.indexOf("\n", pos);
      if (nl === -1) break;
      const text = this.pending.slice(pos, nl).replace(/\r$/, "");
      if (text.trim().length) out.push({ line: this.line, text });
      this.line++;
      pos = nl + 1;
    }
    this.pending = this.pending.slice(pos);
    if (isEnd && this.pending.trim().length) out.push({ line: this.line, text: this.pending.replace(/\r$/, "") });
    if (isEnd) this.pending = "";
    return out;
  }
}

export type ReadProgress = (bytesRead: number) => void;

/**
 * Streams the rows of one file. Header lines are consumed, not returned. `onBytes` reports the
 * bytes read so far (for progress bars).
 */
export async function* readRows(file: string, opts: ReaderOptions, onBytes?: ReadProgress): AsyncGenerator<ReadItem> {
  const decoder = new TextDecoder("utf-8");
  let bytes = 0;
  let columns = "columns" in opts ? opts.columns : undefined;
  let wantsHeader = "header" in opts ? Boolean(opts.header) : false;

  const toItem = (r: { line: number; text: string; values?: string[]; error?: string }): ReadItem | undefined => {
    if (r.error !== undefined) return { ok: false, file, line: r.line, text: r.text, error: r.error };
    if (opts.format === "jsonl") {
      let value: unknown;
      try {
        value = JSON.parse(r.text);
      } catch (err) {
        return { ok: false, file, line: r.line, text: r.text, error: `not valid JSON: ${(err as Error).message}` };
      }
      if (typeof value !== "object" || value === null || Array.isArray(value))
        return { ok: false, file, line: r.line, text: r.text, error: "each line must be a JSON object" };
      return { ok: true, file, line: r.line, text: r.text, record: value as Record<string, unknown>, values: [] };
    }
    const values = r.values!;
    if (wantsHeader) {
      wantsHeader = false;
      if (!columns) columns = values.map((v) => v.trim());
      return undefined;
    }
    if (columns && values.length !== columns.length)
      return { ok: false, file, line: r.line, text: r.text, error: `expected ${columns.length} fields, got ${values.length}` };
    const record: Record<string, unknown> = {};
    if (columns) columns.forEach((name, i) => (record[name] = values[i]));
    return { ok: true, file, line: r.line, text: r.text, record, values };
  };

  const splitter =
    opts.format === "csv"
      ? new CsvSplitter(opts.delimiter ?? ",")
      : undefined;
  const lines = splitter ? undefined : new LineSplitter();
  const split = (chunk: string, isEnd: boolean) => {
    if (splitter) return isEnd ? [...splitter.push(chunk), ...splitter.end()] : splitter.push(chunk);
    const raw = lines!.push(chunk, isEnd);
    if (opts.format === "whitespace") return raw.map((l) => ({ ...l, values: l.text.trim().split(/\s+/) }));
    return raw;
  };

  for await (const chunk of Bun.file(file).stream()) {
    bytes += chunk.byteLength;
    for (const r of split(decoder.decode(chunk, { stream: true }), false)) {
      const item = toItem(r);
      if (item) yield item;
    }
    onBytes?.(bytes);
  }
  for (const r of split(decoder.decode(), true)) {
    const item = toItem(r);
    if (item) yield item;
  }
}
