import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileMapping, mappingFileSchema } from "../../src/import/mapping";
import { EvalUsageError } from "../../src/eval/eval-usage-error";
import { checkEvaluable, evalPopulation, evalTruth, sampleIds } from "../../src/eval/eval-truth";
import { readMappedHistories, type MappedHistories } from "../../src/eval/mapped-history";

const dir = mkdtempSync(join(tmpdir(), "lifeline-eval-truth-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// One event per row (its own `order`), products from `sku`; event names as a producer might send them.
const mapping = compileMapping(
  mappingFileSchema.parse({
    name: "clicks",
    format: "jsonl",
    event: { column: "ev", unmapped: "keep" },
    userId: "user",
    anonymousId: "anon",
    timestamp: { column: "t" },
    group: { by: "order", items: { product_id: "sku", price: { column: "price", type: "number" } } },
  }),
);
const limits = { maxEventBytes: 32 * 1024, futureToleranceMs: 0 };
const CUTOFF = Date.parse("2024-02-01T00:00:00Z");
const run = (cutoff: string, horizonDays: number) => ({ cutoff, cutoffMs: Date.parse(`${cutoff}T00:00:00Z`), horizonDays, input: "clicks.jsonl", mapping });

function write(name: string, rows: Record<string, unknown>[]) {
  const file = join(dir, name);
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return file;
}

const rows = [
  { order: "o1", t: "2024-01-01T10:00:00Z", anon: "v1", ev: "Product Viewed", sku: "A" },
  { order: "o2", t: "2024-01-02T10:00:00Z", user: "u1", anon: "v1", ev: "purchase", sku: "A", price: 5 },
  { order: "o3", t: "2024-01-03T10:00:00Z", anon: "v2", ev: "Product Viewed", sku: "B" },
  { order: "o4", t: "2024-02-10T10:00:00Z", user: "u1", ev: "purchase", sku: "B", price: 7 },
  { order: "o5", t: "2024-01-05T10:00:00Z", user: "u2", ev: "Signed In" },
  { order: "o6", t: "2024-01-06T10:00:00Z", user: "u3", ev: "add to cart", sku: "C" },
  // o2 again, later in the file: rows of one order are its lines wherever they are (the import groups across the input)
  { order: "o2", t: "2024-01-02T10:00:00Z", user: "u1", anon: "v1", ev: "purchase", sku: "A", price: 5 },
  { order: "o8", t: "2024-01-20T10:00:00Z", user: "u4", ev: "Order Completed", sku: "A", price: 5 },
  { order: "o9", t: "2024-03-20T10:00:00Z", user: "u4", ev: "Order Completed", sku: "C", price: 5 },
];

describe("readMappedHistories", () => {
  let h: MappedHistories;
  beforeAll(async () => {
    h = await readMappedHistories(mapping, [write("clicks.jsonl", rows)], limits, join(dir, "rejects.jsonl"));
  });

  test("names are read as the workers read them: 'purchase' is an order, 'add to cart' a cart add", () => {
    expect(h.orders).toBe(4);
    expect(h.customers.get("u3")!.items).toEqual([{ ts: Date.parse("2024-01-06T10:00:00Z"), itemId: "C", kind: "cart", quantity: 1 }]);
  });

  test("the rows of one order, wherever they are in the file, are one event whose lines add up", () => {
    expect(h.events).toBe(8);
    expect(h.customers.get("u1")!.purchases.map((p) => p.amount)).toEqual([10, 7]);
  });

  test("an anonymous visitor linked to a customer by an event carrying both ids is that customer, before the link too", () => {
    expect(h.customerOf({ anonymousId: "v1" })).toBe("u1");
    expect(h.customers.has("anon:v1")).toBe(false);
    expect(h.customers.get("u1")!.items.map((e) => `${e.kind}:${e.itemId}`)).toEqual(["view:A", "purchase:A", "purchase:A", "purchase:B"]);
  });

  test("a visitor never linked stays anonymous; a customer without orders or product events is not kept", () => {
    expect(h.customerOf({ anonymousId: "v2" })).toBe("anon:v2");
    expect([...h.customers.keys()].sort()).toEqual(["anon:v2", "u1", "u3", "u4"]);
  });

  test("the evaluated are identified customers with an order or a product event before the cutoff", () => {
    expect(evalPopulation(h, CUTOFF)).toEqual({ eligible: ["u1", "u3", "u4"], isAnonymous: false });
  });

  test("churn: customers with an order before the cutoff, churned when none follows within the horizon", () => {
    const truth = evalTruth(h, new Set(["u1", "u3", "u4"]), CUTOFF, 30);
    expect(truth.churn.histories.map((x) => x.customerId)).toEqual(["u1", "u4"]);
    // u1 orders again on 02-10; u4 only on 03-20, after the 30 days
    expect(truth.churn.labels).toEqual([0, 1]);
  });

  test("recommendations: every customer with a product event before the cutoff is trained on; targets are new items bought within the horizon", () => {
    const split = evalTruth(h, new Set(["u1", "u3", "u4"]), CUTOFF, 30).recs!;
    expect(split.train.map((x) => x.customerId)).toEqual(["u1", "u3", "u4"]);
    expect(split.cases.map((c) => [c.customer.customerId, [...c.relevant]])).toEqual([["u1", ["B"]]]);
    expect([...split.catalogue].sort()).toEqual(["A", "C"]);
  });

  test("a window with nothing before it, or nothing after it, is refused naming --cutoff", () => {
    const refusal = (cutoff: string) => {
      try {
        checkEvaluable(h, evalPopulation(h, Date.parse(`${cutoff}T00:00:00Z`)), run(cutoff, 30));
      } catch (err) {
        return err instanceof EvalUsageError ? err.message : `not a usage error: ${err}`;
      }
      return "accepted";
    };
    expect(refusal("2024-02-01")).toBe("accepted");
    expect(refusal("2024-04-01")).toBe("--cutoff 2024-04-01: nothing happens after it (the data runs from 2024-01-01T10:00:00.000Z to 2024-03-20T10:00:00.000Z); pick an earlier cutoff");
    expect(refusal("2023-12-01")).toBe("--cutoff 2023-12-01: no customer has an order or a product event before it (the data runs from 2024-01-01T10:00:00.000Z to 2024-03-20T10:00:00.000Z); pick a later cutoff");
  });

  test("a horizon running past the data's end is a warning", () => {
    const warnings = checkEvaluable(h, evalPopulation(h, Date.parse("2024-03-01T00:00:00Z")), run("2024-03-01", 60));
    expect(warnings).toEqual([expect.stringContaining("--horizon-days 60: the data ends 40.6 days before the horizon does")]);
  });
});

describe("data the eval cannot use", () => {
  test("without orders there is nothing to predict, and the message says how to map them", async () => {
    const file = write("views.jsonl", rows.filter((r) => r.ev === "Product Viewed"));
    const h = await readMappedHistories(mapping, [file], limits, join(dir, "rejects.jsonl"));
    expect(() => checkEvaluable(h, evalPopulation(h, CUTOFF), run("2024-02-01", 30))).toThrow('--mapping clicks: its events from clicks.jsonl hold no order ("Order Completed")');
  });

  test("data that names no customer evaluates its anonymous visitors, with a warning", async () => {
    const file = write("anonymous.jsonl", [
      { order: "a1", t: "2024-01-01T10:00:00Z", anon: "v1", ev: "Order Completed", sku: "A" },
      { order: "a2", t: "2024-03-01T10:00:00Z", anon: "v1", ev: "Order Completed", sku: "B" },
    ]);
    const h = await readMappedHistories(mapping, [file], limits, join(dir, "rejects.jsonl"));
    const population = evalPopulation(h, CUTOFF);
    expect(population).toEqual({ eligible: ["anon:v1"], isAnonymous: true });
    expect(checkEvaluable(h, population, run("2024-02-01", 30))).toEqual([expect.stringContaining("anonymous visitors are evaluated")]);
  });
});

describe("sampleIds", () => {
  const ids = Array.from({ length: 50 }, (_, i) => `c-${i}`);
  test("keeps n ids, the same ones whatever the input order", () => {
    const a = sampleIds(ids, 10);
    expect(a.size).toBe(10);
    expect([...sampleIds([...ids].reverse(), 10)].sort()).toEqual([...a].sort());
  });
  test("keeps all when n is absent or larger", () => {
    expect(sampleIds(ids, undefined).size).toBe(50);
    expect(sampleIds(ids, 80).size).toBe(50);
  });
});
