import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EvalReport } from "../../src/eval/eval-report";
import { sampleIds } from "../../src/eval/eval-truth";
import { TEST_MODEL_CACHE_DIR } from "../support/test-config";

const ROOT = join(import.meta.dir, "..", "..");
const FIXTURE = join(ROOT, "test", "fixtures", "eval");
const CSV = join(FIXTURE, "shop-history.csv");
const MAPPING = join(FIXTURE, "shop-history.mapping.json");
const CUTOFF_MS = Date.parse("2024-04-01T00:00:00Z");
const HORIZON_END_MS = CUTOFF_MS + 30 * 86_400_000;

/**
 * The fixture's truth, read here on its own (not through the mapping): one order per order_id,
 * rows without a customer or with an unreadable price left out, as the mapping rejects them.
 */
function fixtureOrders() {
  const [, ...rows] = readFileSync(CSV, "utf8").trim().split("\n");
  const orders = new Map<string, { customer: string; ts: number; skus: string[] }>();
  for (const row of rows) {
    const [orderId, customer, at, sku, , price] = row.split(",");
    if (!customer || Number.isNaN(Number(price))) continue;
    const order = orders.get(orderId!) ?? { customer, ts: Date.parse(`${at!.replace(" ", "T")}Z`), skus: [] };
    order.skus.push(sku!);
    orders.set(orderId!, order);
  }
  return [...orders.values()];
}

function expectedTruth() {
  const orders = fixtureOrders();
  const before = orders.filter((o) => o.ts < CUTOFF_MS);
  const within = orders.filter((o) => o.ts >= CUTOFF_MS && o.ts < HORIZON_END_MS);
  const customers = [...new Set(before.map((o) => o.customer))].sort();
  const churned = customers.filter((c) => !within.some((o) => o.customer === c));
  const ownedBy = (c: string) => new Set(before.filter((o) => o.customer === c).flatMap((o) => o.skus));
  const newItems = new Map(customers.map((c) => [c, [...new Set(within.filter((o) => o.customer === c).flatMap((o) => o.skus))].filter((s) => !ownedBy(c).has(s))]));
  return { customers, churned, newItems, catalogue: new Set(before.flatMap((o) => o.skus)), ordersBefore: before.length, ordersAfter: orders.length - before.length };
}

const out = mkdtempSync(join(tmpdir(), "lifeline-eval-any-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

async function runEval(...flags: string[]) {
  const proc = Bun.spawn([process.execPath, "scripts/eval.ts", ...flags], {
    cwd: ROOT,
    env: { ...process.env, LIFELINE_MODEL_CACHE_DIR: TEST_MODEL_CACHE_DIR, LIFELINE_LOCAL_VOCAB_SIZE: "30000", LOG_LEVEL: "error" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, code };
}

describe("bun run eval --input --mapping (a mapping file and a CSV, through redis-server, the API and the workers)", () => {
  const truth = expectedTruth();

  test("the fixture has what the checks below need: churners and stayers, new items, orders on both sides of the cutoff", () => {
    expect(truth.customers).toEqual(["c-01", "c-02", "c-03", "c-04", "c-05", "c-06", "c-08", "c-09", "c-10"]);
    // c-04 orders again only after the horizon; c-10's only later row is unreadable; c-03 orders exactly at the cutoff (the future).
    expect(truth.churned).toEqual(["c-02", "c-04", "c-08", "c-10"]);
    expect([...truth.newItems].filter(([, items]) => items.length > 0)).toEqual([["c-01", ["KET"]], ["c-03", ["PLT"]], ["c-06", ["BWL"]], ["c-09", ["CUP"]]]);
  });

  test("writes eval-NAME.json and .html whose churn labels and recommendation targets are what the rows after the cutoff say", async () => {
    const { code, stderr, stdout } = await runEval("--input", CSV, "--mapping", MAPPING, "--name", "shop", "--cutoff", "2024-04-01", "--horizon-days", "30", "--out", out);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    expect(stdout).toContain(`wrote ${join(out, "eval-shop")}.json and .html`);
    const report = JSON.parse(readFileSync(join(out, "eval-shop.json"), "utf8")) as EvalReport;
    expect(existsSync(join(out, "eval-shop.html"))).toBe(true);

    expect(report).toMatchObject({ dataset: "shop", mapping: "shop-history", cutoffIso: "2024-04-01T00:00:00.000Z", horizonDays: 30 });
    // Only the history before the cutoff went into the system; every evaluated customer was found there.
    expect(report.system.imported).toMatchObject({ accepted: truth.ordersBefore, rejected: 2, skipped: truth.ordersAfter });
    expect(report.system).toMatchObject({ profiles: truth.customers.length, missing: 0 });
    expect(report.sample).toEqual({ requested: null, eligible: truth.customers.length, customers: truth.customers.length });

    expect(report.churn.customers).toBe(truth.customers.length);
    expect(report.churn.churnRate).toBeCloseTo(truth.churned.length / truth.customers.length, 12);
    expect(report.churn.models.map((m) => m.name)).toEqual(["lifeline", "bgnbd-palive", "bgnbd-nopurchase", "recency"]);
    for (const m of report.churn.models) {
      expect(m.auc).toBeGreaterThanOrEqual(0);
      expect(m.auc).toBeLessThanOrEqual(1);
      expect(m.brier).toBeGreaterThanOrEqual(0);
      expect(m.brier).toBeLessThanOrEqual(1);
    }

    const cases = [...truth.newItems].filter(([, items]) => items.length > 0);
    expect(report.recs).toMatchObject({ k: 10, evaluated: cases.length, catalogue: truth.catalogue.size });
    expect(report.recs!.methods.map((m) => m.name)).toEqual(["lifeline", "most-popular", "cooccurrence"]);
    for (const m of report.recs!.methods) for (const v of [m.hr, m.ndcg]) expect(v >= 0 && v <= 1).toBe(true);

    expect(report.examples.length).toBeGreaterThan(0);
    for (const e of report.examples) {
      expect(e.churned).toBe(truth.churned.includes(e.customerId));
      expect(e.boughtAfter.sort()).toEqual(truth.newItems.get(e.customerId)!.sort());
    }
  }, 120_000);

  test("--sample evaluates and imports only the sampled customers, chosen by customer id", async () => {
    const { code, stderr } = await runEval("--input", CSV, "--mapping", MAPPING, "--cutoff", "2024-04-01", "--horizon-days", "30", "--sample", "4", "--out", out);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const report = JSON.parse(readFileSync(join(out, "eval-shop-history.json"), "utf8")) as EvalReport;
    const sampled = sampleIds(truth.customers, 4);
    expect(report.sample).toEqual({ requested: 4, eligible: truth.customers.length, customers: 4 });
    expect(report.system.profiles).toBe(4);
    expect(report.churn.customers).toBe(4);
    expect(report.churn.churnRate).toBeCloseTo([...sampled].filter((c) => truth.churned.includes(c)).length / 4, 12);
    for (const e of report.examples) expect(sampled.has(e.customerId)).toBe(true);
  }, 120_000);

  test("a bad flag stops it before anything runs, with one sentence that names the flag and the fix", async () => {
    const { code, stdout, stderr } = await runEval("--input", CSV, "--mapping", MAPPING, "--cutoff", "2024-04-01", "--out", out);
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toBe("eval: --horizon-days is missing: give the days after the cutoff that decide churn and hold the purchases to predict, e.g. --horizon-days 90\n");
  }, 30_000);
});
