/** Item–item neighbour lists of a fitted recommender: cosine or EASE, and "bought after" transitions. Pure. */
import { DAY_MS, decayFactor, type RecHistory, type SparseVector, type UsersByItem } from "./history";
import type { RecommenderOptions } from "./options";

/** Sparse top-N lists per item: item `i` owns offsets [start[i], start[i+1]). */
export type NeighbourLists = { start: Int32Array; item: Int32Array; score: Float32Array; support: Int32Array };

/** Indices of the k largest `value`s among `candidates`, largest first, ties to the smaller index. */
export function topK(candidates: readonly number[], value: ArrayLike<number>, k: number): number[] {
  const top: number[] = [];
  const better = (a: number, b: number) => value[a]! > value[b]! || (value[a] === value[b] && a < b);
  if (candidates.length <= k) return [...candidates].sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
  for (const c of candidates) {
    if (top.length === k && !better(c, top[k - 1]!)) continue;
    let at = top.length < k ? top.length : k - 1;
    while (at > 0 && better(c, top[at - 1]!)) {
      if (at < k) top[at] = top[at - 1]!;
      at--;
    }
    top[at] = c;
  }
  return top;
}


/** Top-N neighbours of every item by (asymmetric) cosine over customers' item vectors. */
export function itemCosine(
  users: readonly SparseVector[],
  usersByItem: UsersByItem,
  nItems: number,
  options: RecommenderOptions,
): NeighbourLists {
  const normSq = new Float64Array(nItems);
  for (const u of users) for (let k = 0; k < u.item.length; k++) normSq[u.item[k]!]! += u.weight[k]! ** 2;
  const dot = new Float64Array(nItems);
  const together = new Int32Array(nItems);
  const touched: number[] = [];
  const lists: { item: number[]; score: number[]; support: number[] }[] = [];
  const a = options.itemSimAlpha;
  for (let i = 0; i < nItems; i++) {
    touched.length = 0;
    for (let p = usersByItem.start[i]!; p < usersByItem.start[i + 1]!; p++) {
      const u = users[usersByItem.user[p]!]!;
      const wi = usersByItem.weight[p]!;
      for (let k = 0; k < u.item.length; k++) {
        const j = u.item[k]!;
        if (j === i) continue;
        if (together[j] === 0) touched.push(j);
        dot[j]! += wi * u.weight[k]!;
        together[j]!++;
      }
    }
    for (const j of touched) dot[j] = dot[j]! / (Math.pow(normSq[i]!, a) * Math.pow(normSq[j]!, 1 - a) + 1e-12);
    const top = topK(touched, dot, options.itemNeighbours);
    lists.push({ item: top, score: top.map((j) => dot[j]!), support: top.map((j) => together[j]!) });
    for (const j of touched) (dot[j] = 0), (together[j] = 0);
  }
  return packLists(lists);
}

/** Sparse EASE: dense fit over the most-bought items, each row cut to its top positive weights. */
export function easeLists(users: readonly SparseVector[], usersByItem: UsersByItem, nItems: number, options: RecommenderOptions): NeighbourLists {
  const byBuyers = Array.from({ length: nItems }, (_, i) => i).sort(
    (a, b) => usersByItem.start[b + 1]! - usersByItem.start[b]! - (usersByItem.start[a + 1]! - usersByItem.start[a]!) || a - b,
  );
  const kept = byBuyers.slice(0, options.easeMaxItems);
  const n = kept.length;
  const local = new Int32Array(nItems).fill(-1);
  kept.forEach((i, x) => (local[i] = x));
  const gram = new Float64Array(n * n);
  const together = new Int32Array(n * n);
  for (const u of users) {
    const xs: number[] = [];
    const ws: number[] = [];
    for (let k = 0; k < u.item.length; k++) if (local[u.item[k]!]! >= 0) xs.push(local[u.item[k]!]!), ws.push(u.weight[k]!);
    for (let a = 0; a < xs.length; a++)
      for (let b = 0; b < xs.length; b++) {
        gram[xs[a]! * n + xs[b]!]! += ws[a]! * ws[b]!;
        together[xs[a]! * n + xs[b]!]!++;
      }
  }
  for (let x = 0; x < n; x++) gram[x * n + x]! += options.easeLambda;
  invertSpdInPlace(gram, n);
  const lists: { item: number[]; score: number[]; support: number[] }[] = Array.from({ length: nItems }, () => ({ item: [], score: [], support: [] }));
  const row = new Float64Array(n);
  const candidates: number[] = [];
  for (let a = 0; a < n; a++) {
    candidates.length = 0;
    for (let b = 0; b < n; b++) {
      row[b] = b === a ? 0 : -gram[a * n + b]! / gram[b * n + b]!;
      if (row[b]! > 0) candidates.push(b);
    }
    const top = topK(candidates, row, options.itemNeighbours);
    lists[kept[a]!] = { item: top.map((b) => kept[b]!), score: top.map((b) => row[b]!), support: top.map((b) => together[a * n + b]!) };
  }
  return packLists(lists);
}

/** Gauss–Jordan inverse of a symmetric positive-definite n×n matrix (row-major), in place; SPD needs no pivoting. */
function invertSpdInPlace(m: Float64Array, n: number) {
  for (let k = 0; k < n; k++) {
    const rowK = k * n;
    const inv = 1 / m[rowK + k]!;
    for (let j = 0; j < n; j++) m[rowK + j]! *= inv;
    m[rowK + k] = inv;
    for (let i = 0; i < n; i++) {
      if (i === k) continue;
      const rowI = i * n;
      const f = m[rowI + k]!;
      if (f === 0) continue;
      for (let j = 0; j < n; j++) m[rowI + j]! -= f * m[rowK + j]!;
      m[rowI + k] = -f * inv;
    }
  }
}

export function packLists(lists: readonly { item: number[]; score: number[]; support: number[] }[]): NeighbourLists {
  const start = new Int32Array(lists.length + 1);
  lists.forEach((l, i) => (start[i + 1] = start[i]! + l.item.length));
  const total = start[lists.length]!;
  const item = new Int32Array(total);
  const score = new Float32Array(total);
  const support = new Int32Array(total);
  lists.forEach((l, i) => {
    item.set(l.item, start[i]!);
    score.set(l.score, start[i]!);
    support.set(l.support, start[i]!);
  });
  return { start, item, score, support };
}

/**
 * "Bought after": for each item a, the items its buyers first bought on a later day within
 * the window, one count per customer, weighted by how recent that later purchase is; top N kept.
 */
export function transitions(histories: readonly RecHistory[], indexOf: Map<string, number>, options: RecommenderOptions, builtAtMs: number): NeighbourLists {
  const nItems = indexOf.size;
  const sequences: { item: Int32Array; ts: Float64Array }[] = [];
  const buyers: number[][] = Array.from({ length: nItems }, () => []);
  for (const h of histories) {
    const firstBuy = new Map<number, number>();
    for (const e of h.events) {
      if (e.kind !== "purchase") continue;
      const i = indexOf.get(e.itemId)!;
      if ((firstBuy.get(i) ?? Infinity) > e.ts) firstBuy.set(i, e.ts);
    }
    const ordered = [...firstBuy].sort((x, y) => x[1] - y[1] || x[0] - y[0]);
    const s = sequences.length;
    sequences.push({ item: Int32Array.from(ordered, (o) => o[0]), ts: Float64Array.from(ordered, (o) => o[1]) });
    ordered.forEach(([i], pos) => buyers[i]!.push(s, pos));
  }
  const windowMs = options.afterWindowDays * DAY_MS;
  const score = new Float64Array(nItems);
  const count = new Int32Array(nItems);
  const touched: number[] = [];
  const lists: { item: number[]; score: number[]; support: number[] }[] = [];
  for (let a = 0; a < nItems; a++) {
    touched.length = 0;
    const list = buyers[a]!;
    for (let x = 0; x < list.length; x += 2) {
      const seq = sequences[list[x]!]!;
      const pos = list[x + 1]!;
      const ta = seq.ts[pos]!;
      const dayA = Math.floor(ta / DAY_MS);
      for (let y = pos + 1; y < seq.item.length && seq.ts[y]! - ta <= windowMs; y++) {
        if (Math.floor(seq.ts[y]! / DAY_MS) === dayA) continue;
        const b = seq.item[y]!;
        if (count[b] === 0) touched.push(b);
        score[b]! += decayFactor(builtAtMs - seq.ts[y]!, options.popularityHalfLifeDays);
        count[b]!++;
      }
    }
    const top = topK(touched, score, options.itemNeighbours);
    lists.push({ item: top, score: top.map((b) => score[b]!), support: top.map((b) => count[b]!) });
    for (const b of touched) (score[b] = 0), (count[b] = 0);
  }
  return packLists(lists);
}


export function emptyLists(nItems: number): NeighbourLists {
  return { start: new Int32Array(nItems + 1), item: new Int32Array(0), score: new Float32Array(0), support: new Int32Array(0) };
}
