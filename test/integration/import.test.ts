import { sharedDataDir } from "../../scripts/lib/shared-data";
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../../src/config";
import { startApi, type RunningApi } from "../../src/api/server";
import { createApiClient } from "../../src/import/api-client";
import { builtinMappings } from "../../src/import/builtin-mappings";
import { runImport, type ImportOptions } from "../../src/import/import-run";
import { httpLagProbe } from "../../src/import/lag-probe";
import { compileMapping, loadMappingFile, mappingFileSchema, type Mapping } from "../../src/import/mapping";
import { importMessageId } from "../../src/import/message-id";
import { listInputFiles } from "../../src/import/read-rows";
import { createLogger } from "../../src/log/logger";
import { startWorkers, type WorkerRuntime } from "../../queues/worker-runtime";
import { ingestHarness } from "../support/ingest-harness";
import { startRedis, type TestRedis } from "../support/redis-server";
import { TEST_KEYS, testConfig } from "../support/test-config";
import { waitFor } from "../support/wait-for";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

const DATA = sharedDataDir();
let redis: TestRedis;
let config: Config;
let api: RunningApi;
let url: string;
let h: Awaited<ReturnType<typeof ingestHarness>>;
let workers: WorkerRuntime;
const dir = mkdtempSync(join(tmpdir(), "import-it-"));

beforeAll(async () => {
  redis = await startRedis();
  config = testConfig(redis.url, { HOST: "127.0.0.1" });
  api = await startApi(config, createLogger(config));
  url = `http://127.0.0.1:${api.port}`;
  h = await ingestHarness(config);
  workers = await startWorkers(config, createLogger(config));
});
afterAll(async () => {
  await workers.stop();
  await api.stop();
  h.close();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The first `lines` lines of a data file, written under a fresh folder with the same name. */
function slice(source: string, lines: number, name = source.split("/").pop()!): string {
  const out = join(dir, crypto.randomUUID().slice(0, 8));
  mkdirSync(out, { recursive: true });
  const path = join(out, name);
  const text = readFileSync(source, "utf8").split("\n").slice(0, lines).join("\n") + "\n";
  writeFileSync(path, text);
  return path;
}

function run(mapping: Mapping, input: string, extra: Partial<ImportOptions> = {}) {
  return runImport({
    mapping,
    files: listInputFiles(input, mapping.extensions),
    api: createApiClient({ url, key: TEST_KEYS.write }),
    rejectsPath: join(dir, `${crypto.randomUUID()}.rejects.jsonl`),
    ...extra,
  });
}

async function storedByMessageId() {
  const byId = new Map<string, any[]>();
  for (const s of await h.storedEvents()) byId.set(s.messageId, [...(byId.get(s.messageId) ?? []), s.event]);
  return byId;
}

async function getProfile(id: string) {
  const res = await fetch(`${url}/clients/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${TEST_KEYS.read}` } });
  return res.status === 200 ? ((await res.json()) as any).profile : undefined;
}

const readRejects = (path: string) => (existsSync(path) ? readFileSync(path, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l)) : []);

describe("built-in mappings through the real API", () => {
  test("CDNOW rows land in the stream as Order Completed with revenue, quantity and USD", async () => {
    const file = slice(`${DATA}/cdnow/CDNOW_master.txt`, 41); // header + 40 rows
    const seen: Record<string, unknown>[] = [];
    const s = await run(builtinMappings.cdnow!, file, { onEvent: (e) => void seen.push(e) });
    expect(s).toMatchObject({ rows: 41, events: 40, accepted: 40, duplicates: 0, rejected: 0 });
    const stored = await storedByMessageId();
    const first = stored.get(seen[0]!.messageId as string)![0];
    expect(first).toMatchObject({ type: "track", event: "Order Completed", userId: "cdnow-00001", timestamp: "1997-01-01T00:00:00.000Z", properties: { revenue: 11.77, quantity: 1, currency: "USD" } });
    expect(first.sentAt).toBeUndefined();
  });

  test("Online Retail invoices land as one event each with their products; refunds and guests as documented", async () => {
    const file = slice(`${DATA}/online-retail/by-day/2010-12-01.csv`, 400);
    const seen: any[] = [];
    const s = await run(builtinMappings["online-retail"]!, file, { onEvent: (e) => void seen.push(e) });
    expect(s.accepted).toBe(seen.length);
    expect(s.rows).toBe(399);
    const stored = await storedByMessageId();
    const order = stored.get(seen.find((e) => e.properties.order_id === "536365").messageId)![0];
    expect(order).toMatchObject({ event: "Order Completed", userId: "retail-17850", timestamp: "2010-12-01T08:26:00.000Z", properties: { order_id: "536365", currency: "GBP", revenue: 139.12 } });
    expect(order.properties.products).toHaveLength(7);
    expect(seen.some((e) => e.event === "Order Refunded" && String(e.properties.order_id).startsWith("C"))).toBe(true);
    // every line is in exactly one event or in the reject file
    const lines = seen.reduce((n, e) => n + e.properties.products.length, 0);
    expect(lines + s.rejected).toBe(399);
  });

  test("Taobao behaviours land as Product Viewed / Added / Wishlist / Order Completed", async () => {
    const file = slice(`${DATA}/taobao-userbehavior/UserBehavior_814users.csv`, 300);
    const seen: any[] = [];
    const s = await run(builtinMappings.taobao!, file, { onEvent: (e) => void seen.push(e) });
    expect(s).toMatchObject({ rows: 300, accepted: 300 });
    const stored = await storedByMessageId();
    const names = new Set(seen.map((e) => stored.get(e.messageId)![0].event));
    expect([...names].sort()).toEqual(expect.arrayContaining(["Product Viewed"]));
    const buy = seen.find((e) => e.event === "Order Completed");
    if (buy) expect(stored.get(buy.messageId)![0].properties.products[0].quantity).toBe(1);
    expect(stored.get(seen[0].messageId)![0]).toMatchObject({ userId: "taobao-1", properties: { product_id: "2268318", category: "2520377" } });
  });
});

describe("idempotence and resume", () => {
  test("importing the same file twice doubles nothing: duplicates reported, stream and profiles unchanged", async () => {
    // another file name: ids derive from it, so these rows are new to this Redis
    const file = join(dir, "cdnow-twice.txt");
    writeFileSync(file, readFileSync(`${DATA}/cdnow/CDNOW_master.txt`, "utf8").split("\n").slice(30_000, 30_100).join("\n") + "\n");
    const seen: any[] = [];
    const first = await run(builtinMappings.cdnow!, file, { onEvent: (e) => void seen.push(e) });
    expect(first).toMatchObject({ accepted: 100, duplicates: 0 });
    const customer = seen[0].userId as string;
    const orders = seen.filter((e) => e.userId === customer).length;
    await waitFor(async () => (await getProfile(customer))?.orders === orders, 20_000, `profile ${customer}`);
    const streamBefore = (await h.storedEvents()).length;
    const again = await run(builtinMappings.cdnow!, file);
    expect(again).toMatchObject({ accepted: 0, duplicates: 100 });
    expect((await h.storedEvents()).length).toBe(streamBefore);
    await Bun.sleep(500);
    expect((await getProfile(customer)).orders).toBe(orders);
  });

  test("a killed import resumes from its checkpoint: every event accepted once, overlap reported as duplicates", async () => {
    const folder = join(dir, "killed");
    mkdirSync(folder);
    for (const day of ["2010-12-01", "2010-12-02", "2010-12-03"]) writeFileSync(join(folder, `${day}.csv`), readFileSync(`${DATA}/online-retail/by-day/${day}.csv`));
    const checkpoint = join(dir, "killed.checkpoint.json");
    const rejects = join(dir, "killed.rejects.jsonl");
    const cli = (...extra: string[]) =>
      Bun.spawn([process.execPath, "scripts/import.ts", folder, "--mapping", "online-retail", "--url", url, "--checkpoint", checkpoint, "--rejects", rejects, "--batch-size", "5", "--concurrency", "2", "--no-progress", ...extra], {
        env: { ...process.env, LIFELINE_WRITE_KEY: TEST_KEYS.write },
        stdout: "pipe",
        stderr: "pipe",
      });
    const expected: any[] = [];
    await run(builtinMappings["online-retail"]!, folder, { dryRun: true, api: undefined, onEvent: (e) => void expected.push(e) });

    const child = cli();
    const cp = await waitFor(() => (existsSync(checkpoint) ? JSON.parse(readFileSync(checkpoint, "utf8")) : undefined), 30_000, "a checkpoint");
    await waitFor(() => {
      const c = JSON.parse(readFileSync(checkpoint, "utf8"));
      // A grouped mapping's checkpoint counts units (invoices) done.
      return c.groups?.units > 20;
    }, 30_000, "some progress");
    child.kill("SIGKILL");
    await child.exited;
    await Bun.sleep(300); // a request the server had already received still completes
    expect(cp.mapping).toBe("online-retail");
    const atKill = JSON.parse(readFileSync(checkpoint, "utf8"));
    const storedAtKill = new Set([...(await storedByMessageId()).keys()].filter((id) => expected.some((e) => e.messageId === id)));
    expect(storedAtKill.size).toBeGreaterThan(0);
    expect(storedAtKill.size).toBeLessThan(expected.length);

    const second = cli();
    const out = await new Response(second.stdout).text();
    expect(await second.exited).toBe(0);
    const summary = JSON.parse(out.trim().split("\n").pop()!);
    expect(summary.isComplete).toBe(true);
    // resumed after the checkpoint: the units done before the kill are not sent again
    expect(atKill.groups.units).toBeGreaterThan(0);
    expect(summary.accepted + storedAtKill.size).toBe(expected.length);
    // only batches in flight at the kill (after the checkpoint) are sent again
    expect(summary.duplicates).toBeLessThanOrEqual(2 * 5 + 1);

    const stored = await storedByMessageId();
    for (const e of expected) expect(stored.get(e.messageId)?.length).toBe(1);
    const finalCp = JSON.parse(readFileSync(checkpoint, "utf8"));
    expect(finalCp.groups).toMatchObject({ done: true, buckets: 1 });

    // a third run finds everything done
    const third = cli();
    const thirdSummary = JSON.parse((await new Response(third.stdout).text()).trim());
    expect(thirdSummary).toMatchObject({ rows: 0, accepted: 0, duplicates: 0 });
  }, 120_000);
});

describe("rejects", () => {
  test("rows the mapping cannot use and events the API refuses land in the reject file with line and reason", async () => {
    const rejectsPath = join(dir, "shop.rejects.jsonl");
    const s = await run(loadMappingFile("test/fixtures/import/shop.mapping.json"), "test/fixtures/import/shop-orders.csv", { rejectsPath });
    expect(s).toMatchObject({ events: 2, accepted: 2, rejected: 3 });
    const rejects = readRejects(rejectsPath);
    expect(rejects.map((r) => [r.line, r.reason])).toEqual([
      [5, "no customer: customer empty"],
      [6, 'column ordered_at: "not a date" is not a datetime time'],
      [7, 'column unit_price: "lots" is not a number'],
    ]);
    expect(rejects[0].row).toBe("1003,,nobody@example.com,2024-03-03 10:00:00,MUG-1,\"Mug, blue\",8.50,1");
    expect(rejects[0].file).toEndWith("shop-orders.csv");

    const jsonl = join(dir, "events.jsonl");
    writeFileSync(jsonl, [{ u: "a1", e: "Signed Up", t: "2024-01-01T00:00:00Z" }, { u: "x".repeat(300), e: "Signed Up", t: "2024-01-01T00:00:00Z" }, { u: "a2", e: "Signed In", t: "2024-01-02T00:00:00Z" }].map((o) => JSON.stringify(o)).join("\n") + "\n");
    const mappingPath = join(dir, "events.mapping.json");
    writeFileSync(mappingPath, JSON.stringify({ name: "signups", format: "jsonl", event: { column: "e", unmapped: "keep" }, userId: "u", timestamp: { column: "t" } }));
    const apiRejects = join(dir, "api.rejects.jsonl");
    const r = await run(loadMappingFile(mappingPath), jsonl, { rejectsPath: apiRejects });
    expect(r).toMatchObject({ accepted: 2, rejected: 1 });
    const [bad] = readRejects(apiRejects);
    expect(bad).toMatchObject({ line: 2, reason: expect.stringContaining("rejected by the API: userId") });
    expect(bad.row.userId).toHaveLength(300);
  });
});

describe("back-pressure and retries", () => {
  test("429 and 503 are retried after Retry-After; GET /ready 503 holds sending back", async () => {
    const seen: string[] = [];
    let batchCalls = 0;
    let readyCalls = 0;
    const fake = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const path = new URL(req.url).pathname;
        seen.push(`${path}@${Date.now()}`);
        if (path === "/ready") return ++readyCalls === 1 ? new Response("{}", { status: 503, headers: { "retry-after": "1" } }) : Response.json({ status: "ok", backlog: 0 });
        const body = (await req.json()) as { batch: unknown[] };
        batchCalls++;
        if (batchCalls === 1) return Response.json({ error: "RATE_LIMITED" }, { status: 429, headers: { "retry-after": "1" } });
        if (batchCalls === 2) return Response.json({ error: "STORE_UNAVAILABLE" }, { status: 503, headers: { "retry-after": "1" } });
        return Response.json({ accepted: body.batch.length, duplicates: 0, rejected: [] });
      },
    });
    try {
      const client = createApiClient({ url: `http://127.0.0.1:${fake.port}`, key: "k" });
      const started = Date.now();
      const s = await runImport({
        mapping: builtinMappings.cdnow!,
        files: [slice(`${DATA}/cdnow/CDNOW_master.txt`, 11)],
        api: client,
        rejectsPath: join(dir, "fake.rejects.jsonl"),
        lag: httpLagProbe(client),
      });
      expect(s).toMatchObject({ accepted: 10, lagWaits: 1 });
      expect(batchCalls).toBe(3);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
    } finally {
      fake.stop(true);
    }
  }, 20_000);
});

describe("grouped files in any order", () => {
  /** Online Retail lines of a few days, shuffled (seeded): invoices' lines scattered over the file. */
  function shuffledReceipts(days: string[]): { path: string; lines: number } {
    const body = days.flatMap((d) => readFileSync(`${DATA}/online-retail/by-day/${d}.csv`, "utf8").trim().split("\n").slice(1));
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = body.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [body[i], body[j]] = [body[j]!, body[i]!];
    }
    const path = join(dir, "shuffled-receipts.csv");
    writeFileSync(path, `InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n${body.join("\n")}\n`);
    return { path, lines: body.length };
  }

  const receipts = compileMapping(
    mappingFileSchema.parse({
      name: "shuffled-receipts",
      format: "csv",
      event: "Order Completed",
      userId: "CustomerID",
      timestamp: { column: "InvoiceDate", format: "datetime", timezone: "Europe/London" },
      properties: { order_id: "InvoiceNo", currency: { value: "GBP" } },
      filter: [{ column: "Quantity", op: ">", value: 0 }],
      group: {
        by: "InvoiceNo",
        items: { product_id: "StockCode", name: "Description", price: { column: "UnitPrice", type: "number", required: true }, quantity: { column: "Quantity", type: "integer", required: true } },
      },
    }),
  );

  test("a shuffled receipt file: one event per invoice, no line lost: items + rejected + omitted + filtered = lines", async () => {
    const { path, lines } = shuffledReceipts(["2010-12-01", "2010-12-02", "2010-12-03", "2010-12-05", "2010-12-06"]);
    const rejectsPath = join(dir, "shuffled.rejects.jsonl");
    const s = await run(receipts, path, { rejectsPath });
    const invoices = new Map<string, number>();
    for (const line of readFileSync(path, "utf8").trim().split("\n").slice(1)) {
      const [invoice, , , quantity, , , customer] = line.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.map((f) => f.replace(/,$/, ""));
      if (Number(quantity) > 0 && customer) invoices.set(invoice!, (invoices.get(invoice!) ?? 0) + 1);
    }
    expect(lines).toBeGreaterThan(10_000);
    expect(s.rows).toBe(lines);
    expect(s.events).toBe(invoices.size);
    expect(s.accepted).toBe(invoices.size);
    expect(s.duplicates).toBe(0);
    // Every kept line is an item of its invoice's one event, or in the reject or omitted file.
    const stored = await storedByMessageId();
    const ours = [...invoices.keys()].map((invoice) => {
      const copies = stored.get(importMessageId("shuffled-receipts", path, `group\u0000${invoice}`)) ?? [];
      expect(copies.length).toBe(1);
      return copies[0];
    });
    const items = ours.reduce((n, e) => n + e.properties.products.length, 0);
    expect(items + s.rejected + s.omitted + s.filtered).toBe(lines);
    for (const e of ours) expect(e.properties.products.length + (e.properties.products_omitted ?? 0)).toBe(invoices.get(e.properties.order_id));
    expect(readRejects(rejectsPath).length).toBe(s.rejected);

    // Grouped through bucket files (a memory budget far below the file): the same events.
    const again = await run(receipts, path, { groupMemoryBytes: 64 * 1024 });
    expect(again).toMatchObject({ events: invoices.size, accepted: 0, duplicates: invoices.size, rejected: s.rejected, filtered: s.filtered });
  }, 120_000);
});
