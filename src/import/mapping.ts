import { readFileSync } from "node:fs";
import { z } from "zod";
import { importMessageId } from "./message-id";
import type { ReaderOptions, Row } from "./read-rows";
import { assertTimeZone, parseTime } from "./zoned-time";

/** A Segment event made from rows; it always carries its messageId and timestamp. */
export type ImportEvent = Record<string, unknown> & { type: string; messageId: string; timestamp: string };
export type MappedEvent = { line: number; event: ImportEvent };
export type RowReject = { line: number; text: string; reason: string };
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
   * Rows sharing a key are mapped together (the lines of one invoice). A group closes when its
   * key has not been seen for `idleRows` rows (0: as soon as the key changes) or the file ends.
   */
  group?: { key(row: Row): string | undefined; idleRows: number };
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

export const reject = (rows: Row[], reason: string): UnitOutcome => ({ events: [], rejects: rows.map((r) => ({ line: r.line, text: r.text, reason })) });

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
        idleRows: z.number().int().min(0).default(0),
      })
      .optional(),
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

/** Reads and checks a mapping file; the error names each bad field. */
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
  return compileMapping(parsed.data);
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

function readFields(row: Row, specs: Record<string, ValueSpec>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const v = readValue(row, spec);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

/** Turns a checked mapping file into a Mapping. */
export function compileMapping(m: MappingFile): Mapping {
  const reader: ReaderOptions =
    m.format === "jsonl"
      ? { format: "jsonl" }
      : m.format === "whitespace"
        ? { format: "whitespace", header: m.header ?? !m.columns, columns: m.columns }
        : { format: "csv", delimiter: m.format === "tsv" ? "\t" : (m.delimiter ?? ","), header: m.header ?? true, columns: m.columns };

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
      if (m.group) properties[m.group.into] = rows.map((r) => readFields(r, m.group!.items));
      event.properties = properties;
    }
    return event;
  };

  return {
    name: m.name,
    description: m.description,
    reader,
    extensions: m.extensions ?? (m.format === "jsonl" ? ["jsonl", "ndjson"] : m.format === "tsv" ? ["tsv"] : m.format === "csv" ? ["csv"] : []),
    group: m.group ? { key: (row) => text(field(row, m.group!.by)) || undefined, idleRows: m.group.idleRows } : undefined,
    map(rows) {
      try {
        return { events: [{ line: rows[0]!.line, event: mapRows(rows) }], rejects: [] };
      } catch (err) {
        if (err instanceof RowError) return reject(rows, err.message);
        throw err;
      }
    },
  };
}
