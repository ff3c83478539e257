/** Reads the CDNOW purchase log (Fader & Hardie) into customer histories. */
import type { CustomerHistory } from "../../../pipelines/churn-features";

const dayMs = (yyyymmdd: string) => Date.UTC(+yyyymmdd.slice(0, 4), +yyyymmdd.slice(4, 6) - 1, +yyyymmdd.slice(6, 8));

/**
 * One purchase per customer and day (rows of the same day summed; `quantity` = CDs), each with one
 * "Order Completed" event: the first a conversion, the rest post-conversion.
 * Handles both the master file (header, 4 columns) and the sample (5 columns).
 */
export async function loadCdnow(path: string): Promise<CustomerHistory[]> {
  const byCustomer = new Map<string, Map<string, { amount: number; quantity: number }>>();
  for (const line of (await Bun.file(path).text()).split(/\r?\n/)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4 || !/^\d+$/.test(fields[0]!)) continue;
    const [id, date, cds, amount] =
      fields.length >= 5 ? [fields[0]!, fields[2]!, fields[3]!, fields[4]!] : [fields[0]!, fields[1]!, fields[2]!, fields[3]!];
    const days = byCustomer.get(id) ?? new Map<string, { amount: number; quantity: number }>();
    const day = days.get(date) ?? { amount: 0, quantity: 0 };
    day.amount += Number(amount);
    day.quantity += Number(cds);
    days.set(date, day);
    byCustomer.set(id, days);
  }
  return [...byCustomer].map(([customerId, days]) => {
    const purchases = [...days]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([date, { amount, quantity }]) => ({ ts: dayMs(date), amount, quantity, messageId: `cdnow-${customerId}-${date}` }));
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
