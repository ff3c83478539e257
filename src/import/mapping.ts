import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import { importMessageId } from "./message-id";
import { readRows, type ReaderOptions, type Row } from "./read-rows";
import { assertTimeZone, parseTime } from "./zoned-time";

/** A Segment event made from rows; it always carries its messageId and timestamp. */
export type ImportEvent = Record<string, unknown> & { type: string; messageId: string; timestamp: string };
export type MappedEvent = { line: number; event: ImportEvent };
/** A line the mapping could not use; `omitted`: a good line left out by a size limit (reported apart). */
export type RowReject = { line: number; text: string; reason: string; omitted?: boolean; /** when not the unit's first file (a group spanning files) */ file?: string };
/** What one unit of rows (a row, or an invoice's lines) became. */
export type UnitOutcome = { events: MappedEvent[]; rejects: RowReject[] };

export type Mapping = {
  name: string;
  description: string;
  reader: ReaderOptions;
  /** File name endings taken from a folder. */
  extensions: string[];
  /** Input used when none is given, relative to the data root (built-in mappings). */
  defaultInput?: string;
  /**
   * Rows sharing a key are mapped together (the lines of one invoice), wherever they are in the
   * input: the importer groups across all its files (see group-rows.ts).
   */
  group?: { key(row: Row): string | undefined };
  /** Loads what the mapping needs before the first row (lookup files of `join`). */
  init?(): Promise<void>;
  /**
   * Before grouping: the row with its joined lookup rows, `filtered` (left out by the mapping's
   * filter: counted, not rejected), or a reason to reject it.
   */
  prepare?(row: Row): Row | "filtered" | { reject: string };
  map(rows: Row[]): UnitOutcome;
};

/** A field of a row by column name, or by dotted path into a JSON object. */
export function field(row: Row, column: string): unknown {
  if (column in row.record) return row.record[column];
  let value: unknown = row.record;
  for (const part of column.split(".")) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

export const text = (v: unknown): string => (v === undefined || v === null ? "" : typeof v === "string" ? v.trim() : String(v));

export const rowKey = (row: Row) => `${row.line}\u0000${row.text}`;

export const reject = (rows: Row[], reason: string): UnitOutcome => ({ events: [], rejects: rows.map((r) => ({ file: r.file, line: r.line, text: r.text, reason })) });

// ---------------------------------------------------------------------------------------------
// Mapping files

const columnName = z.string().min(1);
const valueSpecSchema = z.union([
  columnName,
  z.object({
    column: columnName,
    type: z.enum(["string", "number", "integer", "boolean"]).default("string"),
    required: z.boolean().default(false),
  }),
  z.object({ value: z.union([z.string(), z.number(), z.boolean()]) }),
]);
type ValueSpec = z.infer<typeof valueSpecSchema>;
const fieldsSchema = z.record(z.string().min(1), valueSpecSchema).default({});

const FILTER_OPS = ["=", "!=", ">", ">=", "<", "<=", "in", "not in", "empty", "not empty"] as const;
const filterSchema = z
  .object({
    column: columnName,
    op: z.enum(FILTER_OPS),
    value: z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number()])).min(1)]).optional(),
  })
  .superRefine((f, ctx) => {
    const isList = Array.isArray(f.value);
    if (f.op === "empty" || f.op === "not empty") {
      if (f.value !== undefined) ctx.addIssue({ code: "custom", path: ["value"], message: `"${f.op}" takes no value` });
    } else if (f.value === undefined) ctx.addIssue({ code: "custom", path: ["value"], message: `"${f.op}" needs a value` });
    else if ((f.op === "in" || f.op === "not in") !== isList) ctx.addIssue({ code: "custom", path: ["value"], message: isList ? `a list goes with "in" or "not in"` : `"${f.op}" needs a list` });
    else if ([">", ">=", "<", "<="].includes(f.op) && typeof f.value !== "number") ctx.addIssue({ code: "custom", path: ["value"], message: `"${f.op}" compares numbers: give a number` });
  });
type Filter = z.infer<typeof filterSchema>;

const joinSchema = z.object({
  /** The lookup file (relative to the mapping file), e.g. a product catalogue. */
  file: z.string().min(1),
  format: z.enum(["csv", "tsv", "jsonl"]).default("csv"),
  delimiter: z.string().length(1).optional(),
  /** The lookup file's column that identifies its rows. */
  key: columnName,
  /** The input's column whose value is looked up. */
  on: columnName,
  /** Reject a row whose value is not in the lookup file (otherwise its joined columns are just empty). */
  required: z.boolean().default(false),
});

export const mappingFileSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "letters, digits, _ . - only"),
    description: z.string().default(""),
    format: z.enum(["csv", "tsv", "jsonl", "whitespace"]),
    /** csv only; tsv is csv with a tab. @defaultValue "," */
    delimiter: z.string().length(1).optional(),
    /** The first line names the columns (csv, tsv, whitespace). @defaultValue true for csv/tsv */
    header: z.boolean().optional(),
    /** Column names in file order; required when there is no header line. */
    columns: z.array(columnName).optional(),
    extensions: z.array(z.string()).optional(),
    type: z.enum(["track", "identify", "page"]).default("track"),
    /** track: a fixed name, or a column whose values are mapped to names. */
    event: z
      .union([
        z.string().min(1),
        z.object({
          column: columnName,
          map: z.record(z.string(), z.string().min(1)).optional(),
          /** A value missing from `map`: reject the row, or use the value itself as the name. */
          unmapped: z.enum(["reject", "keep"]).default("reject"),
        }),
      ])
      .optional(),
    userId: columnName.optional(),
    anonymousId: columnName.optional(),
    timestamp: z.object({
      column: columnName,
      format: z.enum(["iso", "epoch_s", "epoch_ms", "yyyymmdd", "datetime"]).default("iso"),
      timezone: z.string().default("UTC"),
    }),
    properties: fieldsSchema,
    traits: fieldsSchema,
    /** Rows sharing the `by` column become one event whose `into` list holds one item per row. */
    group: z
      .object({
        by: columnName,
        into: z.string().default("products"),
        items: z.record(z.string().min(1), valueSpecSchema),
        /** A column holding each line's total amount: the event's revenue is their sum (not price × quantity). */
        lineTotal: valueSpecSchema.optional(),
        /** Accepted for mapping files written before groups spanned the whole input; no longer needed. */
        idleRows: z.number().int().min(0).optional(),
      })
      .optional(),
    /** Lookup files whose matching row is joined to each input row, as `<name>.<column>`. */
    join: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "letters, digits and _ only"), joinSchema).optional(),
    /** Rows that meet every condition are imported; the others are counted as filtered. */
    filter: z.array(filterSchema).optional(),
    /** Columns whose values identify a row; default: its line number and text. */
    messageIdFrom: z.array(columnName).min(1).optional(),
  })
  .superRefine((m, ctx) => {
    if (m.type === "track" && !m.event) ctx.addIssue({ code: "custom", path: ["event"], message: "required when type is track" });
    if (!m.userId && !m.anonymousId) ctx.addIssue({ code: "custom", path: ["userId"], message: "name a userId or anonymousId column" });
    if (m.format !== "jsonl" && m.header === false && !m.columns)
      ctx.addIssue({ code: "custom", path: ["columns"], message: "required when the file has no header line" });
    try {
      assertTimeZone(m.timestamp.timezone);
    } catch (err) {
      ctx.addIssue({ code: "custom", path: ["timestamp", "timezone"], message: (err as Error).message });
    }
  });
export type MappingFile = z.infer<typeof mappingFileSchema>;

/** Reads and checks a mapping file; the error names each bad field. Lookup files are relative to it. */
export function loadMappingFile(path: string): Mapping {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`mapping file ${path} is not readable JSON: ${(err as Error).message}`);
  }
  const parsed = mappingFileSchema.safeParse(json);
  if (!parsed.success)
    throw new Error(`fix the mapping file ${path}:\n${parsed.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`).join("\n")}`);
  return compileMapping(parsed.data, dirname(resolve(path)));
}

class RowError extends Error {}

function readValue(row: Row, spec: ValueSpec): unknown {
  if (typeof spec === "object" && "value" in spec) return spec.value;
  const { column, type, required } = typeof spec === "string" ? { column: spec, type: "string" as const, required: false } : spec;
  const raw = text(field(row, column));
  if (raw === "") {
    if (required) throw new RowError(`column ${column} is empty`);
    return undefined;
  }
  switch (type) {
    case "string":
      return raw;
    case "number":
    case "integer": {
      const n = Number(raw);
      if (!Number.isFinite(n) || (type === "integer" && !Number.isInteger(n))) throw new RowError(`column ${column}: "${raw}" is not ${type === "integer" ? "an integer" : "a number"}`);
      return n;
    }
    case "boolean": {
      const v = raw.toLowerCase();
      if (["true", "1", "yes", "y"].includes(v)) return true;
      if (["false", "0", "no", "n"].includes(v)) return false;
      throw new RowError(`column ${column}: "${raw}" is not a boolean`);
    }
  }
}

const asNumber = (spec: ValueSpec): ValueSpec =>
  typeof spec === "string" ? { column: spec, type: "number", required: true } : "column" in spec ? { ...spec, type: "number" } : spec;

function readFields(row: Row, specs: Record<string, ValueSpec>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const v = readValue(row, spec);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

function compare(row: Row, f: Filter): boolean {
  const raw = text(field(row, f.column));
  switch (f.op) {
    case "empty":
      return raw === "";
    case "not empty":
      return raw !== "";
    case "in":
    case "not in":
      return (f.value as Array<string | number>).some((v) => String(v) === raw) === (f.op === "in");
  }
  if (typeof f.value === "number") {
    const n = Number(raw);
    if (raw === "" || !Number.isFinite(n)) throw new RowError(`column ${f.column}: "${raw}" is not a number (filter ${f.column} ${f.op} ${f.value})`);
    const v = f.value;
    return f.op === "=" ? n === v : f.op === "!=" ? n !== v : f.op === ">" ? n > v : f.op === ">=" ? n >= v : f.op === "<" ? n < v : n <= v;
  }
  const equal = raw === String(f.value);
  return f.op === "=" ? equal : !equal;
}

type LookupTable = { file: string; rows: Map<string, Record<string, unknown>> };

async function loadLookup(name: string, spec: z.infer<typeof joinSchema>, baseDir: string): Promise<LookupTable> {
  const file = resolve(baseDir, spec.file);
  const reader: ReaderOptions = spec.format === "jsonl" ? { format: "jsonl" } : { format: "csv", header: true, delimiter: spec.format === "tsv" ? "\t" : (spec.delimiter ?? ",") };
  const rows = new Map<string, Record<string, unknown>>();
  try {
    for await (const item of readRows(file, reader)) {
      if (!item.ok) throw new Error(`line ${item.line}: ${item.error}`);
      const key = text(field(item, spec.key));
      // The first row of a key wins, as a lookup in a spreadsheet would.
      if (key && !rows.has(key)) rows.set(key, item.record);
    }
  } catch (err) {
    throw new Error(`join ${name}: cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  return { file, rows };
}

/** Stays under the API's default 32 KB per event, with room for what the API adds. */
export const MAX_EVENT_CHARS = 30_000;

/**
 * An event whose items list would be over the API's per-event limit keeps the items that fit
 * (from the start) and `<list>_omitted: n`; each line left out is reported as omitted (its amount
 * stays in the event's revenue). `itemRows[i]` is the line that made `items[i]`.
 */
export function fitItems(event: ImportEvent, list: string, itemRows: Row[], what: string): RowReject[] {
  const props = event.properties as Record<string, unknown>;
  const all = props[list] as unknown[];
  if (JSON.stringify(event).length <= MAX_EVENT_CHARS || all.length <= 1) return [];
  const perItem = JSON.stringify(all).length / all.length;
  let keep = Math.max(1, Math.floor(all.length - (JSON.stringify(event).length - MAX_EVENT_CHARS + 64) / perItem));
  const set = () => {
    props[list] = all.slice(0, keep);
    props[`${list}_omitted`] = all.length - keep;
  };
  set();
  while (JSON.stringify(event).length > MAX_EVENT_CHARS && keep > 1) {
    keep--;
    set();
  }
  return itemRows.slice(keep).map((r) => ({
    file: r.file,
    line: r.line,
    text: r.text,
    reason: `left out of ${list}[] of ${what}: the event would be over the API's 32 KB limit (its amount is in the revenue)`,
    omitted: true,
  }));
}

/** Turns a checked mapping file into a Mapping; `baseDir` is where lookup files are found. */
export function compileMapping(m: MappingFile, baseDir = process.cwd()): Mapping {
  const reader: ReaderOptions =
    m.format === "jsonl"
      ? { format: "jsonl" }
      : m.format === "whitespace"
        ? { format: "whitespace", header: m.header ?? !m.columns, columns: m.columns }
        : { format: "csv", delimiter: m.format === "tsv" ? "\t" : (m.delimiter ?? ","), header: m.header ?? true, columns: m.columns };

  const lookups = new Map<string, LookupTable>();

  const eventName = (row: Row): string | undefined => {
    if (typeof m.event === "string" || m.event === undefined) return m.event;
    const raw = text(field(row, m.event.column));
    const named = m.event.map ? m.event.map[raw] : raw;
    if (named) return named;
    if (m.event.unmapped === "keep" && raw) return raw;
    throw new RowError(raw ? `column ${m.event.column}: no event name mapped for "${raw}"` : `column ${m.event.column} is empty`);
  };

  const idKey = (rows: Row[]) => {
    const row = rows[0]!;
    // A row with an empty group key is mapped alone, so it is identified like an ungrouped row.
    const groupKey = m.group ? text(field(row, m.group.by)) : "";
    if (groupKey) return `group\u0000${groupKey}`;
    return m.messageIdFrom ? m.messageIdFrom.map((c) => text(field(row, c))).join("\u0000") : rowKey(row);
  };

  const mapRows = (rows: Row[]): ImportEvent => {
    const first = rows[0]!;
    const userId = m.userId ? text(field(first, m.userId)) : "";
    const anonymousId = m.anonymousId ? text(field(first, m.anonymousId)) : "";
    if (!userId && !anonymousId) throw new RowError(`no customer: ${[m.userId, m.anonymousId].filter(Boolean).join(" and ")} empty`);
    const rawTime = text(field(first, m.timestamp.column));
    const timestamp = parseTime(rawTime, m.timestamp.format, m.timestamp.timezone);
    if (!timestamp) throw new RowError(`column ${m.timestamp.column}: "${rawTime}" is not a ${m.timestamp.format} time`);
    const event: ImportEvent = { type: m.type, messageId: importMessageId(m.name, first.file, idKey(rows)), timestamp };
    if (userId) event.userId = userId;
    if (anonymousId) event.anonymousId = anonymousId;
    const name = eventName(first);
    if (m.type === "track") event.event = name;
    if (m.type === "page" && name) event.name = name;
    if (m.type === "identify") event.traits = readFields(first, m.traits);
    else {
      const properties = readFields(first, m.properties);
      if (m.group) {
        properties[m.group.into] = rows.map((r) => readFields(r, m.group!.items));
        const lineTotal = m.group.lineTotal;
        if (lineTotal) properties.revenue = Math.round(rows.reduce((sum, r) => sum + (readValue(r, asNumber(lineTotal)) as number), 0) * 100) / 100;
      }
      event.properties = properties;
    }
    return event;
  };

  return {
    name: m.name,
    description: m.description,
    reader,
    extensions: m.extensions ?? (m.format === "jsonl" ? ["jsonl", "ndjson"] : m.format === "tsv" ? ["tsv"] : m.format === "csv" ? ["csv"] : []),
    group: m.group ? { key: (row) => text(field(row, m.group!.by)) || undefined } : undefined,
    async init() {
      for (const [name, spec] of Object.entries(m.join ?? {})) lookups.set(name, await loadLookup(name, spec, baseDir));
    },
    prepare(row) {
      if (!m.join && !m.filter) return row;
      try {
        let record = row.record;
        for (const [name, spec] of Object.entries(m.join ?? {})) {
          const table = lookups.get(name);
          if (!table) throw new Error(`join ${name}: the lookup file was not loaded (call init first)`);
          const value = text(field(row, spec.on));
          const match = table.rows.get(value);
          if (!match && spec.required) throw new RowError(`join ${name}: no row of ${table.file} has ${spec.key} = "${value}"`);
          record = { ...record, [name]: match ?? {} };
        }
        const joined = record === row.record ? row : { ...row, record };
        for (const f of m.filter ?? []) if (!compare(joined, f)) return "filtered";
        return joined;
      } catch (err) {
        if (err instanceof RowError) return { reject: err.message };
        throw err;
      }
    },
    map(rows) {
      try {
        const event = mapRows(rows);
        const omitted = m.group ? fitItems(event, m.group.into, rows, `group ${text(field(rows[0]!, m.group.by))}`) : [];
        return { events: [{ line: rows[0]!.line, event }], rejects: omitted };
      } catch (err) {
        if (err instanceof RowError) return reject(rows, err.message);
        throw err;
      }
    },
  };
}
