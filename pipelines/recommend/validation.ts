/**
 * The time split recommendations are judged on, and the two baselines every recommender must
 * beat: targets are the items a customer bought in the horizon after the cutoff that they had
 * not bought before it; most popular (distinct buyers) and item co-occurrence (cosine over
 * customers) are fitted on the same history before the cutoff. Used by the eval and by the
 * per-tenant choice at refit. Pure.
 */
import type { RecHistory, RecKind } from "./history";

export const K = 10;

export type RecCase = { customer: RecHistory; relevant: Set<string> };
export type RecSplit = { train: RecHistory[]; cases: RecCase[]; catalogue: Set<string> };

export function recSplit(histories: readonly RecHistory[], cutoffMs: number, horizonMs: number, needsPurchaseBefore: boolean): RecSplit {
  const train: RecHistory[] = [];
  const cases: RecCase[] = [];
  const catalogue = new Set<string>();
  for (const h of histories) {
    const before = h.events.filter((e) => e.ts < cutoffMs);
    if (before.length === 0) continue;
    const customer = { customerId: h.customerId, events: before };
    train.push(customer);
    for (const e of before) catalogue.add(e.itemId);
    const owned = purchased(customer);
    if (needsPurchaseBefore && owned.size === 0) continue;
    const relevant = new Set(
      h.events.filter((e) => e.kind === "purchase" && e.ts >= cutoffMs && e.ts < cutoffMs + horizonMs && !owned.has(e.itemId)).map((e) => e.itemId),
    );
    if (relevant.size > 0) cases.push({ customer, relevant });
  }
  return { train, cases, catalogue };
}

const purchased = (h: RecHistory) => new Set(h.events.filter((e) => e.kind === "purchase").map((e) => e.itemId));

function firstK(ranked: Iterable<string>, skip: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const item of ranked) {
    if (skip.has(item)) continue;
    out.push(item);
    if (out.length === K) break;
  }
  return out;
}

const byScore = (scores: Map<string, number>) => [...scores].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([item]) => item);

/** Items by distinct buyers before the cutoff (ties: distinct customers who touched them). */
export function mostPopular(train: readonly RecHistory[]): (customer: RecHistory) => string[] {
  const buyers = new Map<string, number>();
  for (const h of train) {
    for (const item of purchased(h)) buyers.set(item, (buyers.get(item) ?? 0) + 1);
    for (const item of new Set(h.events.map((e) => e.itemId))) buyers.set(item, (buyers.get(item) ?? 0) + 1e-6);
  }
  const ranked = byScore(buyers);
  return (customer) => firstK(ranked, purchased(customer));
}

/** Σ over the customer's items i of cos(i, j) = |C_i ∩ C_j| / √(|C_i|·|C_j|), C = customers with the item. */
export function itemCooccurrence(train: readonly RecHistory[], kinds: readonly RecKind[]): (customer: RecHistory) => string[] {
  const counted = new Set(kinds);
  const itemsOf = (h: RecHistory) => new Set(h.events.filter((e) => counted.has(e.kind)).map((e) => e.itemId));
  const basketsByItem = new Map<string, string[][]>();
  for (const basket of train.map((h) => [...itemsOf(h)]))
    for (const item of basket) (basketsByItem.get(item) ?? basketsByItem.set(item, []).get(item)!).push(basket);
  const rows = new Map<string, Map<string, number>>();
  const row = (i: string) => {
    let r = rows.get(i);
    if (r) return r;
    const together = new Map<string, number>();
    for (const basket of basketsByItem.get(i) ?? []) for (const j of basket) if (j !== i) together.set(j, (together.get(j) ?? 0) + 1);
    const ni = basketsByItem.get(i)?.length ?? 0;
    r = new Map([...together].map(([j, n]) => [j, n / Math.sqrt(ni * basketsByItem.get(j)!.length)]));
    rows.set(i, r);
    return r;
  };
  return (customer) => {
    const scores = new Map<string, number>();
    for (const i of itemsOf(customer)) for (const [j, s] of row(i)) scores.set(j, (scores.get(j) ?? 0) + s);
    return firstK(byScore(scores), purchased(customer));
  };
}
