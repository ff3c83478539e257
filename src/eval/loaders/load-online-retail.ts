/** Reads UCI Online Retail (one CSV per trading day) into customer histories. */
import { readdir } from "node:fs/promises";
import type { CustomerHistory, HistoryEvent, HistoryPurchase } from "../../../pipelines/churn-features";

export type RetailLine = {
  invoiceNo: string;
  stockCode: string;
  description: string;
  quantity: number;
  invoiceDateMs: number;
  unitPrice: number;
  customerId: string;
  country: string;
};

/** Splits one CSV record with standard double-quote escaping. */
export function parseCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(",");
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") fields.push(field), (field = "");
    else field += c;
  }
  fields.push(field);
  return fields;
}

/** Invoice dates are UK local wall-clock times; read as UTC (only the order of days matters here). */
const parseInvoiceDate = (text: string) => Date.parse(`${text.replace(" ", "T")}Z`);

/** Every invoice line of every day file, in file (date) order. CustomerID has its ".0" stripped. */
export async function loadRetailLines(dir: string): Promise<RetailLine[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith(".csv")).sort();
  const lines: RetailLine[] = [];
  for (const file of files) {
    const rows = (await Bun.file(`${dir}/${file}`).text()).split("\n");
    for (const row of rows.slice(1)) {
      if (!row) continue;
      const [invoiceNo = "", stockCode = "", description = "", quantity = "", date = "", price = "", customer = "", country = ""] =
        parseCsvLine(row);
      lines.push({
        invoiceNo,
        stockCode,
        description,
        quantity: Number(quantity),
        invoiceDateMs: parseInvoiceDate(date),
        unitPrice: Number(price),
        customerId: customer.replace(/\.0$/, ""),
        country,
      });
    }
  }
  return lines;
}

/** Stock codes of actual products (5 digits, optional letter variant); postage, fees and manual lines are not products. */
const PRODUCT_CODE = /^\d{5}/;

/**
 * Registered customers only (non-empty CustomerID); cancellations (invoice "C…") and
 * adjustments (any non-numeric invoice) are not purchases. One purchase per invoice, amount
 * summed over its lines, `quantity` the units bought, `products` its product stock codes,
 * with one "Order Completed" event. A customer's cancelled invoices are kept only as
 * "Order Refunded" events (stage post_conversion, so they neither count as purchases nor
 * as churn signals; the `refunds` feature counts those before the as-of instant).
 */
export async function loadOnlineRetail(dir: string): Promise<CustomerHistory[]> {
  type Invoice = { customerId: string; ts: number; amount: number; quantity: number; products: string[] };
  const invoices = new Map<string, Invoice>();
  const cancelled = new Map<string, { customerId: string; ts: number }>();
  for (const line of await loadRetailLines(dir)) {
    if (!line.customerId) continue;
    if (/^C\d+$/.test(line.invoiceNo)) {
      if (!cancelled.has(line.invoiceNo)) cancelled.set(line.invoiceNo, { customerId: line.customerId, ts: line.invoiceDateMs });
      continue;
    }
    if (!/^\d+$/.test(line.invoiceNo)) continue;
    const invoice = invoices.get(line.invoiceNo) ?? { customerId: line.customerId, ts: line.invoiceDateMs, amount: 0, quantity: 0, products: [] };
    invoice.amount += line.quantity * line.unitPrice;
    invoice.ts = Math.min(invoice.ts, line.invoiceDateMs);
    if (PRODUCT_CODE.test(line.stockCode)) {
      invoice.quantity += line.quantity;
      invoice.products.push(line.stockCode);
    }
    invoices.set(line.invoiceNo, invoice);
  }
  const byCustomer = new Map<string, HistoryPurchase[]>();
  for (const [invoiceNo, { customerId, ts, amount, quantity, products }] of invoices) {
    const list = byCustomer.get(customerId) ?? [];
    list.push({ ts, amount, quantity, products, messageId: `retail-${invoiceNo}` });
    byCustomer.set(customerId, list);
  }
  const refundsOf = new Map<string, HistoryEvent[]>();
  for (const [invoiceNo, { customerId, ts }] of cancelled) {
    const list = refundsOf.get(customerId) ?? [];
    list.push({ ts, messageId: `retail-${invoiceNo}`, type: "track", name: "Order Refunded", stage: "post_conversion" });
    refundsOf.set(customerId, list);
  }
  return [...byCustomer].map(([customerId, purchases]) => {
    purchases.sort((a, b) => a.ts - b.ts || a.messageId.localeCompare(b.messageId));
    const orders: HistoryEvent[] = purchases.map((p, i) => ({
      ts: p.ts,
      messageId: p.messageId,
      type: "track",
      name: "Order Completed",
      stage: i === 0 ? ("conversion" as const) : ("post_conversion" as const),
    }));
    const events = [...orders, ...(refundsOf.get(customerId) ?? [])].sort((a, b) => a.ts - b.ts);
    return { customerId, firstSeenMs: purchases[0]!.ts, purchases, events };
  });
}
