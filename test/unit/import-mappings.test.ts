import { sharedData } from "../../scripts/lib/shared-data";
import { describe, expect, test } from "bun:test";
import { cdnowMapping, onlineRetailMapping, taobaoMapping } from "../../src/import/builtin-mappings";
import { compileMapping, loadMappingFile, mappingFileSchema } from "../../src/import/mapping";
import { readRows, type Row } from "../../src/import/read-rows";
import { parseTime } from "../../src/import/zoned-time";

const RETAIL_HEADER = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"];

function row(line: number, values: string[], columns?: string[], file = "/data/day.csv"): Row {
  const record: Record<string, unknown> = {};
  columns?.forEach((c, i) => (record[c] = values[i]));
  return { file, line, text: values.join(","), values, record };
}
const retail = (line: number, csv: string) => row(line, csv.split(","), RETAIL_HEADER);

describe("cdnow", () => {
  test("a master row becomes Order Completed with revenue, quantity and USD at midnight UTC", () => {
    const { events, rejects } = cdnowMapping.map([row(2, ["00002", "19970112", "5", "77.00"])]);
    expect(rejects).toEqual([]);
    expect(events[0]!.event).toMatchObject({
      type: "track",
      event: "Order Completed",
      userId: "cdnow-00002",
      timestamp: "1997-01-12T00:00:00.000Z",
      properties: { revenue: 77, quantity: 5, currency: "USD" },
    });
    expect(events[0]!.event.messageId).toMatch(/^imp-[0-9a-f]{32}$/);
  });
  test("a sample row (5 fields) uses the master customer id", () => {
    expect(cdnowMapping.map([row(1, ["00004", "0001", "19970101", "2", "29.33"])]).events[0]!.event).toMatchObject({ userId: "cdnow-00004", properties: { revenue: 29.33, quantity: 2 } });
  });
  test("the header line is skipped, not rejected", () => {
    expect(cdnowMapping.map([row(1, ["customer_id", "date", "number_of_cds", "dollar_value"])])).toEqual({ events: [], rejects: [] });
  });
  const bad = [
    { values: ["00001", "1997-01-01", "1", "11.77"], reason: "not YYYYMMDD" },
    { values: ["00001", "19970101", "one", "11.77"], reason: "number_of_cds" },
    { values: ["00001", "19970101", "1"], reason: "expected 4 fields" },
  ];
  for (const { values, reason } of bad)
    test(`a bad row (${reason}) is rejected with that reason`, () => {
      expect(cdnowMapping.map([row(9, values)]).rejects[0]).toMatchObject({ line: 9, reason: expect.stringContaining(reason) });
    });
  test("the same row of the same file always gets the same messageId; another line a different one", () => {
    const a = cdnowMapping.map([row(3, ["00002", "19970112", "1", "12.00"])]).events[0]!.event.messageId;
    expect(cdnowMapping.map([row(3, ["00002", "19970112", "1", "12.00"], undefined, "/elsewhere/day.csv")]).events[0]!.event.messageId).toBe(a);
    expect(cdnowMapping.map([row(4, ["00002", "19970112", "1", "12.00"])]).events[0]!.event.messageId).not.toBe(a);
  });
});

describe("online-retail", () => {
  test("an invoice's lines become one Order Completed with products, GBP revenue and UK local time", () => {
    const { events } = onlineRetailMapping.map([
      retail(2, "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2011-06-01 08:26:00,2.55,17850.0,United Kingdom"),
      retail(3, "536365,71053,WHITE METAL LANTERN,6,2011-06-01 08:26:00,3.39,17850.0,United Kingdom"),
    ]);
    expect(events).toHaveLength(1);
    expect(events[0]!.event).toMatchObject({
      event: "Order Completed",
      userId: "retail-17850",
      timestamp: "2011-06-01T07:26:00.000Z", // BST
      properties: { order_id: "536365", revenue: 35.64, currency: "GBP", products: [{ product_id: "85123A", name: "WHITE HANGING HEART T-LIGHT HOLDER", price: 2.55, quantity: 6 }, { product_id: "71053", quantity: 6 }] },
      context: { location: { country: "United Kingdom" } },
    });
  });
  test("a C invoice is an Order Refunded with positive quantities and amount", () => {
    const { events } = onlineRetailMapping.map([retail(5, "C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527.0,United Kingdom")]);
    expect(events[0]!.event).toMatchObject({ event: "Order Refunded", timestamp: "2010-12-01T09:41:00.000Z", properties: { order_id: "C536379", revenue: 27.5, products: [{ quantity: 1 }] } });
  });
  test("a guest checkout keeps its order under an anonymousId from the invoice", () => {
    const e = onlineRetailMapping.map([retail(7, "536544,22760,TRAY,1,2010-12-01 14:32:00,25.49,,United Kingdom")]).events[0]!.event;
    expect(e.userId).toBeUndefined();
    expect(e).toMatchObject({ anonymousId: "retail-guest-536544", properties: { guest: true } });
  });
  test("bad-debt adjustments and stock write-offs are rejected with their reason", () => {
    expect(onlineRetailMapping.map([retail(4, "A563185,B,Adjust bad debt,1,2011-08-12 14:50:00,11062.06,,United Kingdom")]).rejects[0]!.reason).toContain("bad-debt");
    const mixed = onlineRetailMapping.map([retail(2, "539994,22830,,-1,2011-01-04 10:09:00,0.0,,United Kingdom")]);
    expect(mixed).toMatchObject({ events: [], rejects: [{ line: 2, reason: expect.stringContaining("stock write-off") }] });
  });
  test("interleaved lines of one invoice join it (the data's 2011-02-01 invoice 542806)", async () => {
    const rows: Row[] = [];
    for await (const item of readRows(sharedData("online-retail", "by-day", "2011-02-01.csv"), onlineRetailMapping.reader))
      if (item.ok && item.line >= 460 && item.line <= 480) rows.push(item);
    const keyOf = onlineRetailMapping.group!.key;
    const invoice = rows.filter((r) => keyOf(r) === "542806");
    expect(invoice.map((r) => r.line)).toContain(466);
    const e = onlineRetailMapping.map(invoice).events[0]!.event;
    expect((e.properties as { products: unknown[] }).products).toHaveLength(invoice.length);
  });
});

describe("taobao", () => {
  const cols = ["user_id", "item_id", "category_id", "behavior", "timestamp"];
  const cases = [
    { behavior: "pv", event: "Product Viewed" },
    { behavior: "cart", event: "Product Added" },
    { behavior: "fav", event: "Product Added to Wishlist" },
  ];
  for (const { behavior, event } of cases)
    test(`${behavior} → ${event} with the item as product`, () => {
      const e = taobaoMapping.map([row(1, ["1", "2268318", "2520377", behavior, "1511544070"], cols)]).events[0]!.event;
      expect(e).toMatchObject({ event, userId: "taobao-1", timestamp: "2017-11-24T17:21:10.000Z", properties: { product_id: "2268318", category: "2520377" } });
    });
  test("buy → Order Completed with the item as its one product", () => {
    const e = taobaoMapping.map([row(1, ["1", "2268318", "2520377", "buy", "1511544070"], cols)]).events[0]!.event;
    expect(e).toMatchObject({ event: "Order Completed", properties: { products: [{ product_id: "2268318", category: "2520377", quantity: 1 }] } });
  });
  test("an unknown behaviour is rejected", () => {
    expect(taobaoMapping.map([row(3, ["1", "2", "3", "like", "1511544070"], cols)]).rejects[0]!.reason).toContain('behavior "like"');
  });
});

describe("mapping files", () => {
  test("the shop example groups order lines and rejects what it cannot use", async () => {
    const m = loadMappingFile("test/fixtures/import/shop.mapping.json");
    const rows: Row[] = [];
    for await (const item of readRows("test/fixtures/import/shop-orders.csv", m.reader)) if (item.ok) rows.push(item);
    const byOrder = Map.groupBy(rows, (r) => m.group!.key(r)!);
    const order = m.map(byOrder.get("1001")!);
    expect(order.events[0]!.event).toMatchObject({
      type: "track",
      event: "Order Completed",
      userId: "c-42",
      timestamp: "2024-03-01T09:15:00.000Z",
      properties: { order_id: "1001", currency: "GBP", products: [{ sku: "MUG-1", name: "Mug, blue", price: 8.5, quantity: 2 }, { sku: "TEA-7", name: 'Earl Grey "Classic"', price: 4.25, quantity: 1 }] },
    });
    expect(m.map(byOrder.get("1003")!).rejects[0]!.reason).toBe("no customer: customer empty");
    expect(m.map(byOrder.get("1004")!).rejects[0]!.reason).toContain('"not a date" is not a datetime time');
    expect(m.map(byOrder.get("1005")!).rejects[0]!.reason).toBe('column unit_price: "lots" is not a number');
  });

  test("an event column with a value map names events; unmapped values are rejected", () => {
    const m = compileMapping(
      mappingFileSchema.parse({ name: "acts", format: "jsonl", event: { column: "action", map: { buy: "Order Completed" } }, userId: "user.id", timestamp: { column: "at", format: "epoch_ms" }, properties: { price: { column: "price", type: "number" } } }),
    );
    const r = (record: Record<string, unknown>): Row => ({ file: "/x.jsonl", line: 1, text: JSON.stringify(record), record, values: [] });
    expect(m.map([r({ action: "buy", user: { id: 7 }, at: 1700000000000, price: "3.5" })]).events[0]!.event).toMatchObject({ event: "Order Completed", userId: "7", properties: { price: 3.5 }, timestamp: "2023-11-14T22:13:20.000Z" });
    expect(m.map([r({ action: "wave", user: { id: 7 }, at: 1 })]).rejects[0]!.reason).toBe('column action: no event name mapped for "wave"');
  });

  test("rows with an empty group key are events of their own, each with its own messageId", () => {
    const m = compileMapping(
      mappingFileSchema.parse({ name: "views", format: "jsonl", event: { column: "ev", unmapped: "keep" }, userId: "user", timestamp: { column: "at" }, group: { by: "order", items: { product_id: "sku" } } }),
    );
    const r = (line: number, record: Record<string, unknown>): Row => ({ file: "/x.jsonl", line, text: JSON.stringify(record), record, values: [] });
    const ids = [r(1, { ev: "Product Viewed", user: "u", at: "2024-01-01T00:00:00Z", sku: "A" }), r(2, { ev: "Product Viewed", user: "u", at: "2024-01-01T00:01:00Z", sku: "B" })].map((row) => m.map([row]).events[0]!.event.messageId);
    expect(new Set(ids).size).toBe(2);
  });

  test("a mapping file with mistakes is refused with each field named", () => {
    const r = mappingFileSchema.safeParse({ name: "x y", format: "csv", header: false, timestamp: { column: "t", timezone: "Mars/Olympus" } });
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => i.path.join("."));
    expect(paths).toEqual(expect.arrayContaining(["name", "event", "userId", "columns", "timestamp.timezone"]));
  });
});

describe("parseTime", () => {
  const cases = [
    { text: "2011-12-09 12:50:00", format: "datetime", tz: "Europe/London", want: "2011-12-09T12:50:00.000Z" },
    { text: "2011-07-01 12:50:00", format: "datetime", tz: "Europe/London", want: "2011-07-01T11:50:00.000Z" },
    { text: "2017-11-25 08:00", format: "datetime", tz: "+08:00", want: "2017-11-25T00:00:00.000Z" },
    { text: "19980630", format: "yyyymmdd", tz: "UTC", want: "1998-06-30T00:00:00.000Z" },
    { text: "19970231", format: "yyyymmdd", tz: "UTC", want: undefined },
    { text: "1511544070", format: "epoch_s", tz: "UTC", want: "2017-11-24T17:21:10.000Z" },
    { text: "2024-05-01T12:00:00+02:00", format: "iso", tz: "UTC", want: "2024-05-01T10:00:00.000Z" },
  ] as const;
  for (const { text, format, tz, want } of cases) test(`${format} ${text} in ${tz} → ${want}`, () => expect(parseTime(text, format, tz)).toBe(want));
});
