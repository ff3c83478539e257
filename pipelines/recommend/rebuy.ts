/**
 * Re-bought catalogues. Groceries are bought again and again; gift wholesale mostly is not.
 * At refit the share of order lines that repeat an item the customer bought before decides
 * which kind of catalogue a tenant has; for a re-bought one, each item's usual repurchase gap
 * drives a "buy again" list of the customer's own items that are due. Pure.
 */
import { z } from "zod";
import { DAY_MS, plural, type RecHistory, type Recommendation } from "./history";

/** A catalogue is re-bought when at least this share of later order lines repeats an earlier item. */
export const REBUY_SHARE = 0.3;
const MIN_GAPS_PER_ITEM = 3;
const MAX_ITEMS_WITH_CYCLE = 5_000;
/** An item is due once this share of its usual gap has passed. */
const DUE_AT = 0.8;

export const rebuyProfileSchema = z.object({
  repeatShare: z.number(),
  isRebought: z.boolean(),
  /** item → median days between one customer's purchases of it (items bought again often enough) */
  cycleDays: z.record(z.string(), z.number()),
});
export type RebuyProfile = z.infer<typeof rebuyProfileSchema>;

const purchaseDays = (h: RecHistory, beforeMs: number) => {
  const byItem = new Map<string, number[]>();
  for (const e of h.events)
    if (e.kind === "purchase" && e.ts < beforeMs) {
      const days = byItem.get(e.itemId) ?? byItem.set(e.itemId, []).get(e.itemId)!;
      const day = Math.floor(e.ts / DAY_MS);
      if (!days.includes(day)) days.push(day);
    }
  for (const days of byItem.values()) days.sort((a, b) => a - b);
  return byItem;
};

export function rebuyProfile(histories: readonly RecHistory[], builtAtMs: number): RebuyProfile {
  let laterLines = 0;
  let repeatLines = 0;
  const gaps = new Map<string, number[]>();
  for (const h of histories) {
    const byItem = purchaseDays(h, builtAtMs + 1);
    const firstOrderDay = Math.min(...[...byItem.values()].map((d) => d[0]!));
    for (const [item, days] of byItem) {
      for (const day of days) if (day > firstOrderDay) laterLines++;
      repeatLines += days.length - 1;
      if (days.length > 1) {
        const list = gaps.get(item) ?? gaps.set(item, []).get(item)!;
        for (let i = 1; i < days.length; i++) list.push(days[i]! - days[i - 1]!);
      }
    }
  }
  const repeatShare = laterLines ? repeatLines / laterLines : 0;
  const cycleDays: Record<string, number> = {};
  const withGaps = [...gaps].filter(([, g]) => g.length >= MIN_GAPS_PER_ITEM).sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1));
  for (const [item, g] of withGaps.slice(0, MAX_ITEMS_WITH_CYCLE)) cycleDays[item] = median(g);
  return { repeatShare, isRebought: repeatShare >= REBUY_SHARE, cycleDays };
}

/**
 * The customer's own items that are due again, most overdue first; empty unless the catalogue
 * is re-bought. Only items with a known cycle (the item's across customers, or the customer's own
 * when they bought it three times or more) are offered.
 */
export function buyAgain(profile: RebuyProfile, customer: RecHistory, k: number, asOfMs: number, names: ReadonlyMap<string, string | undefined> = new Map()): Recommendation[] {
  if (!profile.isRebought || k <= 0) return [];
  const today = Math.floor(asOfMs / DAY_MS);
  const out: (Recommendation & { due: number })[] = [];
  for (const [item, days] of purchaseDays(customer, asOfMs)) {
    const own = days.length >= 3 ? median(days.slice(1).map((d, i) => d - days[i]!)) : undefined;
    const cycle = own ?? profile.cycleDays[item];
    if (cycle === undefined || cycle <= 0) continue;
    const since = today - days.at(-1)!;
    const due = since / cycle;
    if (due < DUE_AT) continue;
    const name = names.get(item) ?? customer.events.find((e) => e.itemId === item && e.name)?.name;
    out.push({
      itemId: item,
      ...(name ? { name } : {}),
      score: Math.min(due, 3) * Math.log1p(days.length),
      reason: `bought ${plural(days.length, "time")}, usually every ${plural(Math.round(cycle), "day")}; last bought ${plural(since, "day")} ago`,
      support: days.length,
      source: "rebuy",
      due,
    });
  }
  return out
    .sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? -1 : 1))
    .slice(0, k)
    .map(({ due: _due, ...r }) => r);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
