import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bucketsFor, groupedUnits, type InputUnit } from "../../src/import/group-rows";
import { compileMapping, loadMappingFile, mappingFileSchema, type Mapping } from "../../src/import/mapping";

const dir = mkdtempSync(join(tmpdir(), "lifeline-group-rows-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A seeded shuffle (mulberry32): the same order on every run. */
function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let a = seed;
  const random = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const basket = compileMapping(
  mappingFileSchema.parse({
    name: "baskets",
    format: "csv",
    event: "Order Completed",
    userId: "customer",
    timestamp: { column: "at", format: "iso" },
    group: { by: "basket", items: { sku: "sku" } },
  }),
);

/** 3,000 lines of 700 baskets (1 to 8 lines each), shuffled, with a bad line and a keyless one. */
function shuffledBaskets(): { path: string; lines: number; baskets: number } {
  const rows: string[] = [];
  for (let b = 0; b < 700; b++) for (let i = 0; i < 1 + (b % 8); i++) rows.push(`b${b},c${b % 50},2024-01-01T00:00:00Z,sku-${i}`);
  rows.push("b-broken,c1,2024-01-01T00:00:00Z"); // 3 fields: unreadable
  rows.push(",c1,2024-01-01T00:00:00Z,sku-x"); // no basket: a unit of its own
  const path = join(dir, `baskets-${rows.length}.csv`);
  writeFileSync(path, ["basket,customer,at,sku", ...shuffle(rows, 7)].join("\n") + "\n");
  return { path, lines: rows.length, baskets: 700 };
}

async function collect(mapping: Mapping, files: string[], buckets: number) {
  const units: InputUnit[] = [];
  for await (const u of groupedUnits({ files, mapping, buckets, tmpDir: dir })) units.push(u);
  return units;
}

const unitLines = (u: InputUnit) => ("bad" in u ? `bad:${u.bad.line}` : u.rows.map((r) => r.line).sort((a, b) => a - b).join(","));
const signature = (units: InputUnit[]) => units.map(unitLines).sort();

describe("grouping across the whole input", () => {
  test("a shuffled file: one unit per basket, every line in exactly one unit, in memory and through bucket files alike", async () => {
    const { path, lines, baskets } = shuffledBaskets();
    const inMemory = await collect(basket, [path], 1);
    const bucketed = await collect(basket, [path], 7);
    for (const units of [inMemory, bucketed]) {
      const seen = units.flatMap((u) => ("bad" in u ? [u.bad.line] : u.rows.map((r) => r.line)));
      expect(seen.length).toBe(lines);
      expect(new Set(seen).size).toBe(lines);
      expect(units.filter((u) => "bad" in u).map((u) => ("bad" in u ? u.bad.reason : ""))).toEqual(["expected 4 fields, got 3"]);
      expect(units.length).toBe(baskets + 2);
      for (const u of units) if (!("bad" in u) && u.rows[0]!.record.basket) expect(new Set(u.rows.map((r) => r.record.basket)).size).toBe(1);
      expect(units.map((u) => u.seq)).toEqual(units.map((_, i) => i));
    }
    expect(signature(bucketed)).toEqual(signature(inMemory));
    // The order is a function of the input and the bucket count: a resumed run sees the same one.
    expect((await collect(basket, [path], 7)).map(unitLines)).toEqual(bucketed.map(unitLines));
  });

  test("a group whose lines are in two files is one unit", async () => {
    const a = join(dir, "a.csv");
    const b = join(dir, "b.csv");
    writeFileSync(a, "basket,customer,at,sku\nx1,c1,2024-01-01T00:00:00Z,s1\nx2,c2,2024-01-01T00:00:00Z,s1\n");
    writeFileSync(b, "basket,customer,at,sku\nx1,c1,2024-01-01T00:00:00Z,s2\n");
    const units = await collect(basket, [a, b], 1);
    expect(units.map((u) => ("rows" in u ? u.rows.map((r) => `${r.file.endsWith("a.csv") ? "a" : "b"}:${r.line}`) : []))).toEqual([["a:2", "b:2"], ["a:3"]]);
  });

  test("bucket count: one while the input fits the memory budget", () => {
    expect(bucketsFor(10, 64)).toBe(1);
    expect(bucketsFor(130, 64)).toBe(3);
  });
});

describe("join, filter and line totals (test/fixtures/import/receipts.mapping.json)", () => {
  test("receipts in any order become one event per receipt, names from the catalogue, revenue from line totals", async () => {
    const m = loadMappingFile("test/fixtures/import/receipts.mapping.json");
    await m.init!();
    const filtered: number[] = [];
    const units: InputUnit[] = [];
    for await (const u of groupedUnits({ files: [join(import.meta.dir, "../fixtures/import/receipts.csv")], mapping: m, buckets: 1, onFiltered: () => filtered.push(1) })) units.push(u);
    const outcomes = units.map((u) => ("bad" in u ? { events: [], rejects: [u.bad] } : m.map(u.rows)));
    const events = outcomes.flatMap((o) => o.events.map((e) => e.event));
    expect(events.map((e) => e.properties)).toEqual([
      { order_id: "R-2", currency: "GBP", revenue: 51, products: [{ product_id: "KET-3", name: "Kettle", category: "kitchen", quantity: 1 }, { product_id: "TEA-7", name: 'Earl Grey "Classic"', category: "tea", quantity: 3 }] },
      { order_id: "R-3", currency: "GBP", revenue: 8.5, products: [{ product_id: "MUG-1", name: "Mug, blue", category: "kitchen", quantity: 1 }] },
    ]);
    const rejects = outcomes.flatMap((o) => o.rejects).map((r) => [r.line, r.reason]);
    expect(rejects).toEqual([
      [3, 'column amount: "lots" is not a number'],
      [6, 'column amount: "lots" is not a number'],
      [9, 'column amount: "lots" is not a number'],
      [8, 'join catalogue: no row of ' + join(import.meta.dir, "../fixtures/import/catalogue.csv") + ' has sku = "XYZ-9"'],
    ]);
    // R-3's refund line (qty -1) is left out by the filter, not rejected: 8 lines = 3 + 1 kept, 4 rejected, 1 filtered.
    expect(filtered.length).toBe(1);
  });

  test("filter conditions: numbers, lists and empty; a non-number where a number is compared is a reject", () => {
    const m = compileMapping(
      mappingFileSchema.parse({
        name: "f",
        format: "jsonl",
        event: "E",
        userId: "u",
        timestamp: { column: "t" },
        filter: [
          { column: "qty", op: ">=", value: 1 },
          { column: "kind", op: "not in", value: ["test", "internal"] },
          { column: "voided", op: "empty" },
        ],
      }),
    );
    const r = (record: Record<string, unknown>) => m.prepare!({ file: "/f.jsonl", line: 1, text: "", record, values: [] });
    expect(r({ qty: "2", kind: "sale" })).toMatchObject({ record: { qty: "2" } });
    expect(r({ qty: "0", kind: "sale" })).toBe("filtered");
    expect(r({ qty: "2", kind: "test" })).toBe("filtered");
    expect(r({ qty: "2", kind: "sale", voided: "yes" })).toBe("filtered");
    expect(r({ qty: "two", kind: "sale" })).toEqual({ reject: 'column qty: "two" is not a number (filter qty >= 1)' });
  });

  test("a mapping file written before groups spanned the input (with idleRows) still loads and groups", () => {
    const parsed = mappingFileSchema.safeParse({ name: "old", format: "csv", event: "E", userId: "u", timestamp: { column: "t" }, group: { by: "o", items: { s: "s" }, idleRows: 50 } });
    expect(parsed.success).toBe(true);
    expect(compileMapping(parsed.data!).group).toBeDefined();
  });

  test("filter and join mistakes are named", () => {
    const bad = mappingFileSchema.safeParse({ name: "x", format: "csv", event: "E", userId: "u", timestamp: { column: "t" }, filter: [{ column: "q", op: ">", value: "1" }, { column: "k", op: "in", value: "a" }], join: { "bad name": { file: "f.csv", key: "k", on: "k" } } });
    expect(bad.success).toBe(false);
    const paths = bad.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    expect(paths).toContain('filter.0.value: ">" compares numbers: give a number');
    expect(paths).toContain('filter.1.value: "in" needs a list');
    expect(paths.some((p) => p.startsWith("join.bad name"))).toBe(true);
  });
});
