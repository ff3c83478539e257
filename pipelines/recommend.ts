/**
 * Recommendation engine: pure, in-memory, serialisable.
 *
 * A fitted {@link Recommender} holds, over an integer item index:
 * - item popularity (decayed count of buyers), overall and per category;
 * - item–item cosine over customers, top-N neighbours per item ("often bought with X");
 * - time-ordered "bought after" transitions between a customer's purchases;
 * - every training customer's decayed item vector, for user-based neighbours at query time
 *   ("bought by 37 customers like you").
 * {@link recommend} blends these for one customer, excluding what they already bought, and
 * says why with the count behind each item. With no signal at all it falls back to the most
 * popular items in the customer's categories, else overall.
 */
import { z } from "zod";

export const DAY_MS = 86_400_000;

export const recKindSchema = z.enum(["view", "cart", "wishlist", "purchase"]);
export type RecKind = z.infer<typeof recKindSchema>;

export const recEventSchema = z.object({
  ts: z.number(),
  itemId: z.string().min(1),
  name: z.string().optional(),
  category: z.string().optional(),
  kind: recKindSchema,
  quantity: z.number().optional(),
});
export type RecEvent = z.infer<typeof recEventSchema>;

export const recHistorySchema = z.object({ customerId: z.string(), events: z.array(recEventSchema) });
export type RecHistory = z.infer<typeof recHistorySchema>;

export type BlendWeights = {
  /** user-based neighbours: what similar customers bought */
  users: number;
  /** item–item cosine from the customer's items */
  items: number;
  /** "bought after" transitions from the customer's purchases */
  after: number;
  /** decayed popularity, in the customer's categories when known */
  popular: number;
  /** items the customer viewed, carted or wished for but has not bought */
  revisit: number;
};

export type RecommenderOptions = {
  /** weight of one event of each kind in a customer's item vector (the max over events counts) */
  kindWeights: Record<RecKind, number>;
  /** half-life of a customer's own events, counted back from their latest event; Infinity = no decay */
  profileHalfLifeDays: number;
  /** half-life of popularity and of neighbours' items, counted back from the build time */
  popularityHalfLifeDays: number;
  /** neighbours kept per item for item–item cosine and transitions */
  itemNeighbours: number;
  /** similar customers used per query */
  userNeighbours: number;
  /** neighbour weight = similarity^exponent */
  userSimExponent: number;
  /** a similar customer's vote for an item halves every this many days before the build time */
  voteHalfLifeDays: number;
  /** a similar customer's votes are divided by (their item count)^exponent, so broad buyers don't drown the rest */
  neighbourSizeExponent: number;
  /** customer similarity weighs each shared item by idf^(2·exponent), idf = ln(1 + customers / buyers) */
  idfExponent: number;
  /**
   * how item–item neighbours are fitted: "cosine" over customers, or "ease" (Steck 2019: ridge
   * regression of each item on all others, closed form B = I − P/diag(P), P = (XᵀX + λI)⁻¹) over
   * the `easeMaxItems` most-bought items, keeping each row's top `itemNeighbours` positive weights
   */
  itemModel: "cosine" | "ease";
  /** EASE ridge penalty λ */
  easeLambda: number;
  /** EASE fits a dense matrix of this many items (cost grows with its cube) */
  easeMaxItems: number;
  /** cosine denominator ‖i‖^(2α)·‖j‖^(2(1−α)); 0.5 = plain cosine, higher favours popular targets */
  itemSimAlpha: number;
  /** later purchases within this many days count as "bought after" */
  afterWindowDays: number;
  /** each component's scores are scaled to max 1 per query, then weighted */
  weights: BlendWeights;
  /** @defaultValue true: purchased items are never recommended again */
  excludePurchased: boolean;
};

/** Chosen on the Online Retail validation split (cutoff 2011-06-12, 90 days; see bench/eval-recs.ts). */
export const defaultRecommenderOptions: RecommenderOptions = {
  kindWeights: { purchase: 1, cart: 0.6, wishlist: 0.5, view: 0.2 },
  profileHalfLifeDays: 120,
  popularityHalfLifeDays: 15,
  itemNeighbours: 200,
  userNeighbours: 40,
  userSimExponent: 1,
  voteHalfLifeDays: 90,
  neighbourSizeExponent: 0,
  idfExponent: 0,
  itemModel: "ease",
  easeLambda: 400,
  easeMaxItems: 1500,
  itemSimAlpha: 0.5,
  afterWindowDays: 60,
  weights: { users: 0.5, items: 1, after: 0, popular: 0.1, revisit: 0.3 },
  excludePurchased: true,
};

/** Sparse top-N lists per item: item `i` owns offsets [start[i], start[i+1]). */
type NeighbourLists = { start: Int32Array; item: Int32Array; score: Float32Array; support: Int32Array };

/** A customer's items as parallel arrays, sorted by item index. */
type SparseVector = { item: Int32Array; weight: Float32Array; bought: Uint8Array; lastTs: Float64Array; norm: number };

export type Recommender = {
  options: RecommenderOptions;
  builtAtMs: number;
  itemIds: string[];
  names: (string | undefined)[];
  categories: (string | undefined)[];
  /** decayed buyer count (views etc. by kind weight when nothing was bought) */
  popularity: Float64Array;
  /** distinct customers who bought each item */
  buyers: Int32Array;
  /** item indices, most popular first */
  popularOrder: Int32Array;
  /** per category, item indices most popular first (at most 200) */
  popularByCategory: Map<string, Int32Array>;
  similar: NeighbourLists;
  after: NeighbourLists;
  customerIds: string[];
  users: SparseVector[];
  /** per item, the factor its shared weight gets in customer similarity (idf^(2·idfExponent)) */
  similarityWeight: Float64Array;
  /** item → users who have it, with that user's weight */
  usersByItem: { start: Int32Array; user: Int32Array; weight: Float32Array };
  indexOf: Map<string, number>;
};

export type Recommendation = {
  itemId: string;
  name?: string;
  score: number;
  reason: string;
  /** the count behind the reason: similar customers who bought it, co-buyers, buyers overall… */
  support: number;
  source: keyof BlendWeights;
};

const decayFactor = (ageMs: number, halfLifeDays: number) =>
  Number.isFinite(halfLifeDays) ? Math.pow(0.5, Math.max(0, ageMs) / (halfLifeDays * DAY_MS)) : 1;

export function buildRecommender(histories: readonly RecHistory[], overrides: Partial<RecommenderOptions> = {}): Recommender {
  const options: RecommenderOptions = { ...defaultRecommenderOptions, ...overrides };
  const indexOf = new Map<string, number>();
  const itemIds: string[] = [];
  const names: (string | undefined)[] = [];
  const categories: (string | undefined)[] = [];
  let builtAtMs = -Infinity;
  for (const h of histories)
    for (const e of h.events) {
      let i = indexOf.get(e.itemId);
      if (i === undefined) {
        i = itemIds.length;
        indexOf.set(e.itemId, i);
        itemIds.push(e.itemId);
        names.push(undefined);
        categories.push(undefined);
      }
      if (e.name) names[i] = e.name;
      if (e.category) categories[i] = e.category;
      if (e.ts > builtAtMs) builtAtMs = e.ts;
    }
  if (!Number.isFinite(builtAtMs)) builtAtMs = 0;
  const nItems = itemIds.length;

  const customerIds: string[] = [];
  const users: SparseVector[] = [];
  const popularity = new Float64Array(nItems);
  const viewPopularity = new Float64Array(nItems);
  const buyers = new Int32Array(nItems);
  for (const h of histories) {
    const vector = customerVector(h.events, indexOf, options, latestTs(h.events));
    if (vector.item.length === 0) continue;
    customerIds.push(h.customerId);
    users.push(vector);
    const lastBought = new Map<number, number>();
    const lastSeen = new Map<number, number>();
    for (const e of h.events) {
      const i = indexOf.get(e.itemId)!;
      const map = e.kind === "purchase" ? lastBought : lastSeen;
      if ((map.get(i) ?? -Infinity) < e.ts) map.set(i, e.ts);
    }
    for (const [i, ts] of lastBought) {
      buyers[i]!++;
      popularity[i]! += decayFactor(builtAtMs - ts, options.popularityHalfLifeDays);
    }
    for (const [i, ts] of lastSeen) viewPopularity[i]! += 0.01 * decayFactor(builtAtMs - ts, options.popularityHalfLifeDays);
  }
  // Items nobody bought still rank among themselves by attention, always below any bought item's share.
  for (let i = 0; i < nItems; i++) popularity[i]! += Math.min(viewPopularity[i]!, 0.009);

  const { popularOrder, popularByCategory } = popularityRankings(popularity, categories);

  const usersByItem = invertUsers(users, nItems);
  const similarityWeight = similarityWeights(users, usersByItem, options);
  const similar =
    options.weights.items <= 0
      ? emptyLists(nItems)
      : options.itemModel === "ease"
        ? easeLists(users, usersByItem, nItems, options)
        : itemCosine(users, usersByItem, nItems, options);
  const after = options.weights.after > 0 ? transitions(histories, indexOf, options, builtAtMs) : emptyLists(nItems);
  return {
    options,
    builtAtMs,
    itemIds,
    names,
    categories,
    popularity,
    buyers,
    popularOrder,
    popularByCategory,
    similar,
    after,
    customerIds,
    users,
    usersByItem,
    similarityWeight,
    indexOf,
  };
}

/** idf^(2·exponent) per item; also sets each user's norm under these weights. */
function similarityWeights(users: readonly SparseVector[], usersByItem: Recommender["usersByItem"], options: RecommenderOptions) {
  const nItems = usersByItem.start.length - 1;
  const weight = new Float64Array(nItems);
  for (let i = 0; i < nItems; i++) {
    const df = usersByItem.start[i + 1]! - usersByItem.start[i]!;
    weight[i] = Math.pow(Math.log(1 + users.length / Math.max(1, df)), 2 * options.idfExponent);
  }
  for (const u of users) u.norm = weightedNorm(u, weight);
  return weight;
}

function weightedNorm(v: SparseVector, weight: Float64Array): number {
  let sq = 0;
  for (let x = 0; x < v.item.length; x++) sq += v.weight[x]! ** 2 * weight[v.item[x]!]!;
  return Math.sqrt(sq);
}

function latestTs(events: readonly RecEvent[]): number {
  let t = -Infinity;
  for (const e of events) if (e.ts > t) t = e.ts;
  return t;
}

/** Max over a customer's events of kind weight × decay from `nowMs`; unknown items are skipped. */
function customerVector(events: readonly RecEvent[], indexOf: Map<string, number>, options: RecommenderOptions, nowMs: number): SparseVector {
  const weights = new Map<number, { w: number; bought: boolean; ts: number }>();
  for (const e of events) {
    const i = indexOf.get(e.itemId);
    if (i === undefined) continue;
    const w = options.kindWeights[e.kind] * decayFactor(nowMs - e.ts, options.profileHalfLifeDays);
    const cur = weights.get(i);
    if (!cur) weights.set(i, { w, bought: e.kind === "purchase", ts: e.ts });
    else {
      cur.w = Math.max(cur.w, w);
      cur.bought ||= e.kind === "purchase";
      cur.ts = Math.max(cur.ts, e.ts);
    }
  }
  const order = [...weights.keys()].sort((a, b) => a - b);
  const item = Int32Array.from(order);
  const weight = Float32Array.from(order, (i) => weights.get(i)!.w);
  const bought = Uint8Array.from(order, (i) => (weights.get(i)!.bought ? 1 : 0));
  const lastTs = Float64Array.from(order, (i) => weights.get(i)!.ts);
  let sq = 0;
  for (const w of weight) sq += w * w;
  return { item, weight, bought, lastTs, norm: Math.sqrt(sq) };
}

function rankByPopularity(items: Int32Array, popularity: Float64Array): Int32Array {
  return Int32Array.from([...items].sort((a, b) => popularity[b]! - popularity[a]! || a - b));
}

/** Items most popular first, overall and per category (at most 200 per category). */
function popularityRankings(popularity: Float64Array, categories: readonly (string | undefined)[]) {
  const popularOrder = rankByPopularity(Int32Array.from({ length: popularity.length }, (_, i) => i), popularity);
  const membersByCategory = new Map<string, number[]>();
  categories.forEach((c, i) => c !== undefined && (membersByCategory.get(c) ?? membersByCategory.set(c, []).get(c)!).push(i));
  const popularByCategory = new Map<string, Int32Array>();
  for (const [c, members] of membersByCategory)
    popularByCategory.set(c, rankByPopularity(Int32Array.from(members), popularity).slice(0, 200));
  return { popularOrder, popularByCategory };
}

function invertUsers(users: readonly SparseVector[], nItems: number) {
  const start = new Int32Array(nItems + 1);
  for (const u of users) for (const i of u.item) start[i + 1]!++;
  for (let i = 0; i < nItems; i++) start[i + 1]! += start[i]!;
  const fill = start.slice(0, nItems);
  const user = new Int32Array(start[nItems]!);
  const weight = new Float32Array(start[nItems]!);
  users.forEach((u, ui) => {
    for (let k = 0; k < u.item.length; k++) {
      const at = fill[u.item[k]!]!++;
      user[at] = ui;
      weight[at] = u.weight[k]!;
    }
  });
  return { start, user, weight };
}

function emptyLists(nItems: number): NeighbourLists {
  return { start: new Int32Array(nItems + 1), item: new Int32Array(0), score: new Float32Array(0), support: new Int32Array(0) };
}

/** Top-N neighbours of every item by (asymmetric) cosine over customers' item vectors. */
function itemCosine(
  users: readonly SparseVector[],
  usersByItem: Recommender["usersByItem"],
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
function easeLists(users: readonly SparseVector[], usersByItem: Recommender["usersByItem"], nItems: number, options: RecommenderOptions): NeighbourLists {
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

function packLists(lists: readonly { item: number[]; score: number[]; support: number[] }[]): NeighbourLists {
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
function transitions(histories: readonly RecHistory[], indexOf: Map<string, number>, options: RecommenderOptions, builtAtMs: number): NeighbourLists {
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

/** Per-query scores of one source; only the items in `touched` are non-zero. */
type Component = { score: Float64Array; support: Float64Array; via: Int32Array; strongest: Float64Array; touched: number[]; max: number };

const SOURCES = ["users", "items", "after", "revisit", "popular"] as const satisfies readonly (keyof BlendWeights)[];

/** Scratch arrays reused across queries of one model (scoring is synchronous, so never shared mid-query). */
type Workspace = {
  parts: Record<keyof BlendWeights, Component>;
  total: Float64Array;
  best: Float64Array;
  bestSource: Uint8Array;
  userDot: Float64Array;
};
const workspaces = new WeakMap<Recommender, Workspace>();

function workspaceFor(model: Recommender): Workspace {
  let ws = workspaces.get(model);
  if (ws) return ws;
  const n = model.itemIds.length;
  const component = (): Component => ({
    score: new Float64Array(n),
    support: new Float64Array(n),
    via: new Int32Array(n).fill(-1),
    strongest: new Float64Array(n),
    touched: [],
    max: 0,
  });
  ws = {
    parts: { users: component(), items: component(), after: component(), revisit: component(), popular: component() },
    total: new Float64Array(n),
    best: new Float64Array(n),
    bestSource: new Uint8Array(n),
    userDot: new Float64Array(model.users.length),
  };
  workspaces.set(model, ws);
  return ws;
}

function add(part: Component, i: number, s: number) {
  if (!(s > 0)) return;
  if (part.score[i] === 0) part.touched.push(i);
  part.score[i]! += s;
}

function finish(part: Component) {
  for (const i of part.touched) if (part.score[i]! > part.max) part.max = part.score[i]!;
}

function clear(part: Component) {
  for (const i of part.touched) (part.score[i] = 0), (part.support[i] = 0), (part.via[i] = -1), (part.strongest[i] = 0);
  part.touched.length = 0;
  part.max = 0;
}

/** Indices of the k largest `value`s among `candidates`, largest first, ties to the smaller index. */
function topK(candidates: readonly number[], value: ArrayLike<number>, k: number): number[] {
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

/**
 * Top-k items for one customer, best first. The customer's own id is skipped among the
 * similar customers (so a fitted customer is not their own neighbour). Items bought before
 * are excluded; items unknown to the model are ignored.
 */
export function recommend(model: Recommender, customer: RecHistory, k: number): Recommendation[] {
  const { options } = model;
  const w = options.weights;
  const ws = workspaceFor(model);
  const q = customerVector(customer.events, model.indexOf, options, latestTs(customer.events));
  const owned = new Set<number>();
  if (options.excludePurchased) for (let x = 0; x < q.item.length; x++) if (q.bought[x]) owned.add(q.item[x]!);
  const { parts } = ws;
  if (q.item.length > 0) {
    if (w.users > 0) userNeighbourScores(model, ws, q, customer.customerId);
    if (w.items > 0) listScores(model.similar, parts.items, q, false);
    if (w.after > 0) listScores(model.after, parts.after, q, true);
    if (w.revisit > 0) revisitScores(parts.revisit, q);
  }
  const hasSignal = SOURCES.some((s) => parts[s].max > 0);
  if (w.popular > 0 || !hasSignal) popularScores(model, parts.popular, customer);

  const { total, best, bestSource } = ws;
  const candidates: number[] = [];
  for (let si = 0; si < SOURCES.length; si++) {
    const source = SOURCES[si]!;
    const part = parts[source];
    if (part.max <= 0) continue;
    const weight = hasSignal ? w[source] : 1;
    for (const i of part.touched) {
      if (owned.has(i)) continue;
      const contribution = (weight * part.score[i]!) / part.max;
      if (total[i] === 0) candidates.push(i);
      total[i]! += contribution;
      if (contribution > best[i]!) (best[i] = contribution), (bestSource[i] = si);
    }
  }
  const top = topK(candidates, total, k);
  const result = top.map((i) => {
    const source = SOURCES[bestSource[i]!]!;
    const { reason, support } = explain(model, source, parts[source], i);
    const name = model.names[i];
    return { itemId: model.itemIds[i]!, ...(name ? { name } : {}), score: total[i]!, reason, support, source };
  });
  for (const i of candidates) (total[i] = 0), (best[i] = 0);
  for (const source of SOURCES) clear(parts[source]);
  return result;
}

function userNeighbourScores(model: Recommender, ws: Workspace, q: SparseVector, customerId: string) {
  const { usersByItem, users, options, similarityWeight } = model;
  const dot = ws.userDot;
  const touched: number[] = [];
  const qNorm = weightedNorm(q, similarityWeight);
  for (let x = 0; x < q.item.length; x++) {
    const i = q.item[x]!;
    const qw = q.weight[x]! * similarityWeight[i]!;
    for (let p = usersByItem.start[i]!; p < usersByItem.start[i + 1]!; p++) {
      const u = usersByItem.user[p]!;
      if (dot[u] === 0) touched.push(u);
      dot[u]! += qw * usersByItem.weight[p]!;
    }
  }
  for (const u of touched) dot[u] = model.customerIds[u] === customerId ? 0 : dot[u]! / (qNorm * users[u]!.norm + 1e-12);
  const neighbours = topK(touched, dot, options.userNeighbours);
  const part = ws.parts.users;
  const vote = Number.isFinite(options.voteHalfLifeDays);
  for (const u of neighbours) {
    const s = dot[u]!;
    if (s <= 0) break;
    const v = users[u]!;
    const weight = Math.pow(s, options.userSimExponent) * Math.pow(v.item.length, -options.neighbourSizeExponent);
    for (let x = 0; x < v.item.length; x++) {
      const j = v.item[x]!;
      const age = vote ? decayFactor(model.builtAtMs - v.lastTs[x]!, options.voteHalfLifeDays) : 1;
      add(part, j, weight * v.weight[x]! * age);
      if (v.bought[x]) part.support[j]!++;
    }
  }
  for (const u of touched) dot[u] = 0;
  finish(part);
}

/** Σ over the customer's items i (only bought ones when `boughtOnly`) of the list score i → j; remembers the strongest i. */
function listScores(lists: NeighbourLists, part: Component, q: SparseVector, boughtOnly: boolean) {
  const { strongest } = part;
  for (let x = 0; x < q.item.length; x++) {
    if (boughtOnly && !q.bought[x]) continue;
    const g = q.weight[x]!;
    const i = q.item[x]!;
    for (let p = lists.start[i]!; p < lists.start[i + 1]!; p++) {
      const j = lists.item[p]!;
      const c = g * lists.score[p]!;
      add(part, j, c);
      if (c > strongest[j]!) (strongest[j] = c), (part.via[j] = i), (part.support[j] = lists.support[p]!);
    }
  }
  finish(part);
}

function revisitScores(part: Component, q: SparseVector) {
  for (let x = 0; x < q.item.length; x++) if (!q.bought[x]) add(part, q.item[x]!, q.weight[x]!);
  finish(part);
}

/** Popularity within the customer's categories (by how much of their activity falls in each), else overall. */
function popularScores(model: Recommender, part: Component, customer: RecHistory) {
  const categoryShare = new Map<string, number>();
  for (const e of customer.events) {
    const i = model.indexOf.get(e.itemId);
    const c = e.category ?? (i === undefined ? undefined : model.categories[i]);
    if (c !== undefined && model.popularByCategory.has(c)) categoryShare.set(c, (categoryShare.get(c) ?? 0) + 1);
  }
  const top = model.popularity[model.popularOrder[0] ?? 0] ?? 0;
  if (top <= 0) return;
  // Category members outrank every overall item, ordered by share × popularity.
  for (const [c, n] of categoryShare)
    for (const i of model.popularByCategory.get(c)!) {
      add(part, i, 1 + (n / customer.events.length) * (model.popularity[i]! / top));
      part.via[i] = 1;
    }
  for (const i of model.popularOrder.subarray(0, 500)) if (part.score[i] === 0) add(part, i, model.popularity[i]! / top);
  finish(part);
}

function explain(model: Recommender, source: keyof BlendWeights, part: Component, i: number): { reason: string; support: number } {
  const label = (j: number) => model.names[j] ?? model.itemIds[j]!;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  switch (source) {
    case "users": {
      const n = part.support[i]!;
      return n > 0
        ? { reason: `bought by ${plural(n, "customer")} like you`, support: n }
        : { reason: "viewed by customers like you", support: 0 };
    }
    case "items": {
      const n = part.support[i]!;
      return { reason: `often bought with ${label(part.via[i]!)} (${plural(n, "customer")})`, support: n };
    }
    case "after": {
      const n = part.support[i]!;
      return { reason: `customers who bought ${label(part.via[i]!)} bought this next (${n})`, support: n };
    }
    case "revisit":
      return { reason: "you looked at this and have not bought it yet", support: 1 };
    case "popular": {
      const n = model.buyers[i]!;
      const c = model.categories[i];
      const where = part.via[i] === 1 && c !== undefined ? `popular in ${c}` : "popular right now";
      return { reason: `${where}: bought by ${plural(n, "customer")}`, support: n };
    }
  }
}

/** JSON-safe form of a fitted model, for a worker to load with {@link deserialiseRecommender}. */
export function serialiseRecommender(model: Recommender): string {
  const lists = (l: NeighbourLists) => ({ start: [...l.start], item: [...l.item], score: [...l.score], support: [...l.support] });
  return JSON.stringify({
    version: 1,
    // JSON has no Infinity ("no decay"); spell it out so it survives the round trip.
    options: JSON.parse(JSON.stringify(model.options, (_, v) => (v === Infinity ? "Infinity" : v))),
    builtAtMs: model.builtAtMs,
    itemIds: model.itemIds,
    names: model.names.map((n) => n ?? null),
    categories: model.categories.map((c) => c ?? null),
    popularity: [...model.popularity],
    buyers: [...model.buyers],
    similar: lists(model.similar),
    after: lists(model.after),
    customerIds: model.customerIds,
    users: model.users.map((u) => ({ item: [...u.item], weight: [...u.weight], bought: [...u.bought], lastTs: [...u.lastTs] })),
  });
}

const listsSchema = z.object({
  start: z.array(z.number()),
  item: z.array(z.number()),
  score: z.array(z.number()),
  support: z.array(z.number()),
});
const serialisedSchema = z.object({
  version: z.literal(1),
  options: z.custom<RecommenderOptions>((v) => typeof v === "object" && v !== null),
  builtAtMs: z.number(),
  itemIds: z.array(z.string()),
  names: z.array(z.string().nullable()),
  categories: z.array(z.string().nullable()),
  popularity: z.array(z.number()),
  buyers: z.array(z.number()),
  similar: listsSchema,
  after: listsSchema,
  customerIds: z.array(z.string()),
  users: z.array(
    z.object({ item: z.array(z.number()), weight: z.array(z.number()), bought: z.array(z.number()), lastTs: z.array(z.number()) }),
  ),
});

export function deserialiseRecommender(json: string): Recommender {
  const s = serialisedSchema.parse(JSON.parse(json));
  const nItems = s.itemIds.length;
  const stored = JSON.parse(JSON.stringify(s.options), (_, v) => (v === "Infinity" ? Infinity : v)) as Partial<RecommenderOptions>;
  const options: RecommenderOptions = { ...defaultRecommenderOptions, ...stored };
  const lists = (l: z.infer<typeof listsSchema>): NeighbourLists => ({
    start: Int32Array.from(l.start),
    item: Int32Array.from(l.item),
    score: Float32Array.from(l.score),
    support: Int32Array.from(l.support),
  });
  const users: SparseVector[] = s.users.map((u) => ({
    item: Int32Array.from(u.item),
    weight: Float32Array.from(u.weight),
    bought: Uint8Array.from(u.bought),
    lastTs: Float64Array.from(u.lastTs),
    norm: 0,
  }));
  const usersByItem = invertUsers(users, nItems);
  const categories = s.categories.map((c) => c ?? undefined);
  const popularity = Float64Array.from(s.popularity);
  const { popularOrder, popularByCategory } = popularityRankings(popularity, categories);
  return {
    options,
    builtAtMs: s.builtAtMs,
    itemIds: s.itemIds,
    names: s.names.map((n) => n ?? undefined),
    categories,
    popularity,
    buyers: Int32Array.from(s.buyers),
    popularOrder,
    popularByCategory,
    similar: lists(s.similar),
    after: lists(s.after),
    customerIds: s.customerIds,
    users,
    usersByItem,
    similarityWeight: similarityWeights(users, usersByItem, options),
    indexOf: new Map(s.itemIds.map((id, i) => [id, i])),
  };
}
