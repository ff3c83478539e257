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

/**
 * Σ over the customer's items i of cos(i, j) = |C_i ∩ C_j| / √(|C_i|·|C_j|), C = customers with the item.
 * Items are numbered and counted in typed arrays: a row of the item–item matrix is built the
 * first time a customer holds its item (Online Retail's rows cost Σ over customers of their
 * item count squared, which Maps of strings made the slowest step of the eval).
 */
export function itemCooccurrence(train: readonly RecHistory[], kinds: readonly RecKind[]): (customer: RecHistory) => string[] {
  const counted = new Set(kinds);
  const index = new Map<string, number>();
  const ids: string[] = [];
  const itemsOf = (h: RecHistory, isAdding: boolean): number[] => {
    const items: number[] = [];
    for (const item of new Set(h.events.filter((e) => counted.has(e.kind)).map((e) => e.itemId))) {
      let x = index.get(item);
      if (x === undefined && isAdding) index.set(item, (x = ids.push(item) - 1));
      if (x !== undefined) items.push(x);
    }
    return items;
  };
  const baskets = train.map((h) => Int32Array.from(itemsOf(h, true)));
  const basketsByItem: number[][] = ids.map(() => []);
  baskets.forEach((basket, b) => basket.forEach((x) => basketsByItem[x]!.push(b)));

  const together = new Int32Array(ids.length);
  const rows = new Map<number, { items: Int32Array; cos: Float64Array }>();
  const row = (i: number) => {
    let r = rows.get(i);
    if (r) return r;
    const touched: number[] = [];
    for (const b of basketsByItem[i]!)
      for (const j of baskets[b]!) {
        if (j === i) continue;
        if (together[j] === 0) touched.push(j);
        together[j] = together[j]! + 1;
      }
    const ni = basketsByItem[i]!.length;
    r = { items: Int32Array.from(touched), cos: Float64Array.from(touched, (j) => together[j]! / Math.sqrt(ni * basketsByItem[j]!.length)) };
    for (const j of touched) together[j] = 0;
    rows.set(i, r);
    return r;
  };
  const score = new Float64Array(ids.length);
  return (customer) => {
    const touched: number[] = [];
    for (const i of itemsOf(customer, false)) {
      const { items, cos } = row(i);
      for (let k = 0; k < items.length; k++) {
        const j = items[k]!;
        if (score[j] === 0) touched.push(j);
        score[j] = score[j]! + cos[k]!;
      }
    }
    touched.sort((a, b) => score[b]! - score[a]! || (ids[a]! < ids[b]! ? -1 : 1));
    const ranked = touched.map((j) => ids[j]!);
    for (const j of touched) score[j] = 0;
    return firstK(ranked, purchased(customer));
  };
}
