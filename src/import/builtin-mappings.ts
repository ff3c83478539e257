import { importMessageId } from "./message-id";
import { existsSync } from "node:fs";
import { field, fitItems, loadMappingFile, reject, rowKey, text, type ImportEvent, type Mapping, type MappedEvent, type RowReject } from "./mapping";
import type { Row } from "./read-rows";
import { parseTime } from "./zoned-time";

/*
 * Built-in mappings for the data sets in ../shared/data (see each README there). Customer ids
 * get a data-set prefix ("cdnow-00001", "retail-17850", "taobao-1"): CDNOW and Online Retail
 * both use 5-digit ids, and importing both into one Lifeline must not merge their customers.
 */

const money = (n: number) => Math.round(n * 100) / 100;

/**
 * CDNOW (Fader & Hardie): whitespace-separated `customer_id date number_of_cds dollar_value`
 * (master file) or `master_id sample_id date cds dollars` (1/10 sample). One purchase per row →
 * "Order Completed" with revenue, quantity and currency USD at 00:00 UTC of the day.
 * The master file's header line is recognised and skipped.
 */
export const cdnowMapping: Mapping = {
  name: "cdnow",
  description: "CDNOW purchase log: one Order Completed per row (revenue USD, quantity = CDs)",
  reader: { format: "whitespace" },
  extensions: ["txt"],
  defaultInput: "cdnow/CDNOW_master.txt",
  map(rows) {
    const row = rows[0]!;
    const v = row.values;
    if (row.line === 1 && v[0] === "customer_id") return { events: [], rejects: [] };
    if (v.length !== 4 && v.length !== 5) return reject(rows, `expected 4 fields (master) or 5 (sample), got ${v.length}`);
    const [customer, date, cds, dollars] = v.length === 4 ? v : [v[0], v[2], v[3], v[4]];
    if (!/^\d+$/.test(customer!)) return reject(rows, `customer_id "${customer}" is not a number`);
    const timestamp = parseTime(date!, "yyyymmdd");
    if (!timestamp) return reject(rows, `date "${date}" is not YYYYMMDD`);
    const quantity = Number(cds);
    if (!Number.isInteger(quantity) || quantity < 0) return reject(rows, `number_of_cds "${cds}" is not a whole number ≥ 0`);
    const revenue = Number(dollars);
    if (!Number.isFinite(revenue) || revenue < 0) return reject(rows, `dollar_value "${dollars}" is not an amount ≥ 0`);
    const event: ImportEvent = {
      type: "track",
      event: "Order Completed",
      userId: `cdnow-${customer}`,
      messageId: importMessageId("cdnow", row.file, rowKey(row)),
      timestamp,
      properties: { revenue, quantity, currency: "USD" },
    };
    return { events: [{ line: row.line, event }], rejects: [] };
  },
};

const RETAIL_COLUMNS = ["InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country"];

/**
 * UCI Online Retail, one CSV per day. The lines of one invoice become one event:
 * - a sale invoice → "Order Completed" {order_id, revenue, currency GBP, products[]};
 * - a `C` invoice (a credit note: goods returned or an order cancelled after invoicing, money
 *   paid back) → "Order Refunded" with positive quantities and amounts. The data cannot tell a
 *   cancellation before dispatch from a return, and Segment's "Order Cancelled" means the
 *   former, so every credit note is a refund;
 * - guest checkouts (no CustomerID) keep their orders under anonymousId `retail-guest-<invoice>`
 *   with `guest: true`: they are real sales, and an anonymous profile per invoice is what a
 *   store without the customer's identity really knows. Filter on `retail-guest-` to leave them out.
 * Rejected with a reason: `A` invoices (bad-debt adjustments, not customer activity), negative
 * quantities on a sale invoice (stock write-offs: damaged, lost, no customer), and unreadable
 * numbers or dates. InvoiceDate is UK local time (Europe/London, summer time included).
 */
export const onlineRetailMapping: Mapping = {
  name: "online-retail",
  description: "UCI Online Retail: one Order Completed (or Order Refunded for C invoices) per invoice, products[] from its lines",
  reader: { format: "csv", header: true },
  extensions: ["csv"],
  defaultInput: "online-retail/by-day",
  group: { key: (row) => text(row.record.InvoiceNo) || undefined },
  map(rows) {
    const first = rows[0]!;
    if (RETAIL_COLUMNS.some((c) => !(c in first.record))) return reject(rows, `expected columns ${RETAIL_COLUMNS.join(",")}`);
    const invoice = text(first.record.InvoiceNo);
    if (!invoice) return reject(rows, "InvoiceNo is empty");
    if (invoice.startsWith("A")) return reject(rows, `invoice ${invoice} is a bad-debt adjustment, not customer activity`);
    const isRefund = invoice.startsWith("C");
    const rejects: RowReject[] = [];
    const products: Array<Record<string, unknown>> = [];
    const productRows: Row[] = [];
    let used: Row | undefined;
    for (const row of rows) {
      const quantity = Number(text(row.record.Quantity));
      const price = Number(text(row.record.UnitPrice));
      const why =
        !Number.isInteger(quantity) ? `Quantity "${text(row.record.Quantity)}" is not a whole number`
        : !Number.isFinite(price) ? `UnitPrice "${text(row.record.UnitPrice)}" is not a number`
        : !isRefund && quantity < 0 ? "negative quantity on a sale invoice: a stock write-off, not a purchase"
        : price < 0 ? "negative UnitPrice"
        : undefined;
      if (why) {
        rejects.push({ file: row.file, line: row.line, text: row.text, reason: why });
        continue;
      }
      used ??= row;
      const name = text(row.record.Description);
      const code = text(row.record.StockCode);
      products.push({ product_id: code, ...(name ? { name } : {}), price, quantity: Math.abs(quantity) });
      productRows.push(row);
    }
    if (!used) return { events: [], rejects };
    const rawTime = text(used.record.InvoiceDate);
    const timestamp = parseTime(rawTime, "datetime", "Europe/London");
    if (!timestamp) return { events: [], rejects: [...rejects, ...reject(rows.filter((r) => !rejects.some((x) => x.line === r.line)), `InvoiceDate "${rawTime}" is not YYYY-MM-DD HH:MM:SS`).rejects] };
    const customer = text(used.record.CustomerID).replace(/\.0+$/, "");
    const revenue = money(products.reduce((sum, p) => sum + (p.price as number) * (p.quantity as number), 0));
    const country = text(used.record.Country);
    const event: ImportEvent = {
      type: "track",
      event: isRefund ? "Order Refunded" : "Order Completed",
      ...(customer ? { userId: `retail-${customer}` } : { anonymousId: `retail-guest-${invoice}` }),
      messageId: importMessageId("online-retail", first.file, `invoice\u0000${invoice}`),
      timestamp,
      properties: { order_id: invoice, revenue, currency: "GBP", products, ...(customer ? {} : { guest: true }) },
      ...(country ? { context: { location: { country } } } : {}),
    };
    // A few invoices have hundreds of lines: products that would put the event over the API's
    // per-event limit are left out (reported as omitted); revenue still counts every line.
    rejects.push(...fitItems(event, "products", productRows, `order ${invoice}`));
    const events: MappedEvent[] = [{ line: used.line, event }];
    return { events, rejects };
  },
};

const TAOBAO_EVENTS: Record<string, string> = {
  pv: "Product Viewed",
  cart: "Product Added",
  fav: "Product Added to Wishlist",
  buy: "Order Completed",
};

/**
 * Taobao UserBehavior: `user_id,item_id,category_id,behavior,timestamp` (epoch seconds, no
 * header). pv → Product Viewed, cart → Product Added, fav → Product Added to Wishlist,
 * buy → Order Completed with the item as its one product (the data has no prices or order ids).
 */
export const taobaoMapping: Mapping = {
  name: "taobao",
  description: "Taobao UserBehavior: pv/cart/fav/buy → Product Viewed/Added/Added to Wishlist/Order Completed",
  reader: { format: "csv", header: false, columns: ["user_id", "item_id", "category_id", "behavior", "timestamp"] },
  extensions: ["csv"],
  defaultInput: "taobao-userbehavior/UserBehavior_814users.csv",
  map(rows) {
    const row = rows[0]!;
    const [user, item, category, behavior, ts] = ["user_id", "item_id", "category_id", "behavior", "timestamp"].map((c) => text(field(row, c)));
    const name = TAOBAO_EVENTS[behavior!];
    if (!name) return reject(rows, `behavior "${behavior}" is not one of pv, cart, fav, buy`);
    if (!user) return reject(rows, "user_id is empty");
    if (!item) return reject(rows, "item_id is empty");
    const timestamp = parseTime(ts!, "epoch_s");
    if (!timestamp) return reject(rows, `timestamp "${ts}" is not epoch seconds`);
    const product = { product_id: item, ...(category ? { category } : {}) };
    const event: ImportEvent = {
      type: "track",
      event: name,
      userId: `taobao-${user}`,
      messageId: importMessageId("taobao", row.file, rowKey(row)),
      timestamp,
      properties: behavior === "buy" ? { products: [{ ...product, quantity: 1 }] } : product,
    };
    return { events: [{ line: row.line, event }], rejects: [] };
  },
};

export const builtinMappings: Record<string, Mapping> = {
  cdnow: cdnowMapping,
  "online-retail": onlineRetailMapping,
  taobao: taobaoMapping,
};

/** A built-in mapping by name, else the mapping file at that path (its mistakes thrown with the field named); undefined when neither. */
export function resolveMapping(nameOrFile: string): Mapping | undefined {
  const builtin = builtinMappings[nameOrFile];
  if (builtin) return builtin;
  return existsSync(nameOrFile) ? loadMappingFile(nameOrFile) : undefined;
}
