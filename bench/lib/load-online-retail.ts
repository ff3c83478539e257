/** Reads UCI Online Retail (one CSV per trading day) into customer histories. */
import { readdir } from "node:fs/promises";
import type { CustomerHistory, HistoryPurchase } from "../../pipelines/churn-features.ts";

export const ONLINE_RETAIL_DIR = "/work/shared/data/online-retail/by-day";

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
export async function loadRetailLines(dir = ONLINE_RETAIL_DIR): Promise<RetailLine[]> {
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

/**
 * Registered customers only (non-empty CustomerID); cancellations (invoice "C…") and
 * adjustments (any non-numeric invoice) dropped. One purchase per invoice, amount summed
 * over its lines, with one "Order Completed" event.
 */
export async function loadOnlineRetail(dir = ONLINE_RETAIL_DIR): Promise<CustomerHistory[]> {
  const invoices = new Map<string, { customerId: string; ts: number; amount: number }>();
  for (const line of await loadRetailLines(dir)) {
    if (!line.customerId || !/^\d+$/.test(line.invoiceNo)) continue;
    const invoice = invoices.get(line.invoiceNo) ?? { customerId: line.customerId, ts: line.invoiceDateMs, amount: 0 };
    invoice.amount += line.quantity * line.unitPrice;
    invoice.ts = Math.min(invoice.ts, line.invoiceDateMs);
    invoices.set(line.invoiceNo, invoice);
  }
  const byCustomer = new Map<string, HistoryPurchase[]>();
  for (const [invoiceNo, { customerId, ts, amount }] of invoices) {
    const list = byCustomer.get(customerId) ?? [];
    list.push({ ts, amount, messageId: `retail-${invoiceNo}` });
    byCustomer.set(customerId, list);
  }
  return [...byCustomer].map(([customerId, purchases]) => {
    purchases.sort((a, b) => a.ts - b.ts || a.messageId.localeCompare(b.messageId));
    return {
      customerId,
      firstSeenMs: purchases[0]!.ts,
      purchases,
      events: purchases.map((p, i) => ({
        ts: p.ts,
        messageId: p.messageId,
        type: "track",
        name: "Order Completed",
        stage: i === 0 ? ("conversion" as const) : ("post_conversion" as const),
      })),
    };
  });
}
