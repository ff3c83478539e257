/**
 * Evidence counted live, with every purchase, between refits (src/inference/live-item-counts.ts
 * keeps it in Redis): how many customers bought each item, and how many bought two items both.
 * So a customer gets recommendations as soon as other customers' purchases exist, before any
 * model is fitted, and items new since the last refit can be recommended. Pure.
 */
import { z } from "zod";
import { plural } from "../history";

export const liveEvidenceSchema = z.object({
  /** Items by distinct buyers, most bought first. */
  popular: z.array(z.object({ itemId: z.string(), buyers: z.number().int(), name: z.string().optional() })),
  /** For each of the customer's recent items: the items bought with it, by how many customers, and their buyers. */
  together: z.array(
    z.object({
      itemId: z.string(),
      name: z.string().optional(),
      buyers: z.number().int(),
      with: z.array(z.object({ itemId: z.string(), name: z.string().optional(), customers: z.number().int(), buyers: z.number().int() })),
    }),
  ),
});
export type LiveEvidence = z.infer<typeof liveEvidenceSchema>;

export type LiveCandidate = { itemId: string; name?: string; score: number; reason: string; support: number; source: "live" };

const MIN_POPULAR_BUYERS = 2;

/** Items bought together with the customer's items, scored by cosine over customers, best first; owned items skipped. */
export function liveTogether(evidence: LiveEvidence, owned: ReadonlySet<string>): LiveCandidate[] {
  const byItem = new Map<string, LiveCandidate & { strongest: number }>();
  for (const mine of evidence.together)
    for (const other of mine.with) {
      if (owned.has(other.itemId) || other.customers < 1) continue;
      const s = other.customers / Math.sqrt(Math.max(1, mine.buyers) * Math.max(1, other.buyers));
      const current = byItem.get(other.itemId);
      const reason = `bought with ${mine.name ?? mine.itemId} by ${plural(other.customers, "customer")}`;
      if (!current) {
        byItem.set(other.itemId, { itemId: other.itemId, ...(other.name ? { name: other.name } : {}), score: s, reason, support: other.customers, source: "live", strongest: s });
        continue;
      }
      current.score += s;
      if (s > current.strongest) Object.assign(current, { strongest: s, reason, support: other.customers });
    }
  return [...byItem.values()].map(({ strongest: _s, ...c }) => c).sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? -1 : 1));
}

/** The most bought items (by at least two customers), owned items skipped. */
export function livePopular(evidence: LiveEvidence, owned: ReadonlySet<string>): LiveCandidate[] {
  const top = evidence.popular[0]?.buyers ?? 0;
  return evidence.popular
    .filter((p) => p.buyers >= MIN_POPULAR_BUYERS && !owned.has(p.itemId))
    .map((p) => ({ itemId: p.itemId, ...(p.name ? { name: p.name } : {}), score: p.buyers / top, reason: `popular: bought by ${plural(p.buyers, "customer")}`, support: p.buyers, source: "live" as const }));
}

/** A customer's item counters as the profile keeps them (units bought, last touched). */
type OwnedItems = Record<string, { purchased: number; lastAt: number; name?: string }>;
type FreshPurchase = { products: readonly { id: string; name?: string; quantity: number }[] };

/** Items of the customer's a new purchase is paired with (their most recent ones), bounding the work per order. */
export const MAX_PAIRED_ITEMS = 20;

/**
 * What one customer's newly applied purchases add to the live counts: the items they bought for
 * the first time (one more buyer each) and the pairs of a first-time item with their other
 * recent items (one more customer who bought both). `items` is the profile after the purchases.
 */
export function liveIncrements(items: OwnedItems, fresh: readonly FreshPurchase[]): { newItems: { itemId: string; name?: string }[]; pairs: [string, string][] } {
  const boughtNow = new Map<string, { quantity: number; name?: string }>();
  for (const purchase of fresh)
    for (const p of purchase.products) {
      const current = boughtNow.get(p.id) ?? { quantity: 0 };
      boughtNow.set(p.id, { quantity: current.quantity + p.quantity, ...(p.name ? { name: p.name } : current.name ? { name: current.name } : {}) });
    }
  const newItems = [...boughtNow]
    .filter(([id, b]) => (items[id]?.purchased ?? b.quantity) <= b.quantity)
    .map(([itemId, b]) => ({ itemId, ...(b.name ? { name: b.name } : {}) }));
  const isNew = new Set(newItems.map((n) => n.itemId));
  const recent = Object.entries(items)
    .filter(([, it]) => it.purchased > 0)
    .sort((a, b) => b[1].lastAt - a[1].lastAt || (a[0] < b[0] ? -1 : 1))
    .slice(0, MAX_PAIRED_ITEMS)
    .map(([id]) => id);
  const pairs: [string, string][] = [];
  for (const { itemId: j } of newItems)
    for (const i of recent) {
      // Two first-time items are paired once.
      if (i === j || (isNew.has(i) && i > j)) continue;
      pairs.push([i, j]);
    }
  return { newItems, pairs };
}
