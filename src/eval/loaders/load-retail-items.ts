/** UCI Online Retail as item-level purchase histories for the recommender evaluation. */
import type { RecEvent, RecHistory } from "../../../pipelines/recommend";
import { loadRetailLines } from "./load-online-retail";

/** Product codes start with a digit; POST, D, M, DOT, BANK CHARGES, AMAZONFEE, … are fees and adjustments. */
const isProductCode = (stockCode: string) => /^\d/.test(stockCode);

/**
 * Registered customers only; cancellations and adjustments (non-numeric invoices), returns
 * (quantity ≤ 0) and non-product codes dropped. One "purchase" event per invoice line:
 * item = StockCode, name = Description (the latest non-empty one for the code). No categories.
 */
export async function loadRetailItemHistories(dir: string): Promise<RecHistory[]> {
  const lines = await loadRetailLines(dir);
  const nameOf = new Map<string, string>();
  for (const line of lines) if (line.description.trim()) nameOf.set(line.stockCode, line.description.trim());
  const byCustomer = new Map<string, RecEvent[]>();
  for (const line of lines) {
    if (!line.customerId || !/^\d+$/.test(line.invoiceNo) || line.quantity <= 0 || !isProductCode(line.stockCode)) continue;
    const events = byCustomer.get(line.customerId) ?? byCustomer.set(line.customerId, []).get(line.customerId)!;
    const name = nameOf.get(line.stockCode);
    events.push({
      ts: line.invoiceDateMs,
      itemId: line.stockCode,
      ...(name ? { name } : {}),
      kind: "purchase",
      quantity: line.quantity,
    });
  }
  return [...byCustomer].map(([customerId, events]) => ({ customerId, events: events.sort((a, b) => a.ts - b.ts) }));
}
