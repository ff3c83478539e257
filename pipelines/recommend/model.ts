/**
 * The fitted recommender: pure, in-memory, serialisable. Over an integer item index it holds
 * item popularity (decayed count of buyers), overall and per category; item–item neighbour lists
 * ("often bought with X"); time-ordered "bought after" transitions; every training customer's
 * decayed item vector, for user-based neighbours at query time ("bought by 37 customers like
 * you"); and whether this catalogue is re-bought (see rebuy.ts). The sources in sources/ score
 * one customer against it and blend.ts mixes them.
 */
import { z } from "zod";
import { decayFactor, latestTs, type RecEvent, type RecHistory, type SparseVector, type UsersByItem } from "./history";
import { easeLists, emptyLists, itemCosine, transitions, type NeighbourLists } from "./item-lists";
import { defaultRecommenderOptions, type RecommenderOptions } from "./options";
import { rebuyProfile, rebuyProfileSchema, type RebuyProfile } from "./rebuy";


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
  usersByItem: UsersByItem;
  indexOf: Map<string, number>;
  /** how much of this catalogue customers buy again, and each item's usual repurchase gap */
  rebuy: RebuyProfile;
};

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
  const counted: RecHistory[] = [];
  for (const h of histories) {
    const vector = customerVector(h.events, indexOf, options, latestTs(h.events));
    if (vector.item.length === 0) continue;
    customerIds.push(h.customerId);
    users.push(vector);
    counted.push(h);
  }
  const { popularity, buyers } = itemPopularity(counted, indexOf, builtAtMs, options.popularityHalfLifeDays);
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
    rebuy: rebuyProfile(histories, builtAtMs),
  };
}

/**
 * Distinct buyers per item among the customers the model holds, and their decayed count (each buyer's latest purchase, halved every
 * `halfLifeDays`); items nobody bought rank among themselves by attention, below any bought one.
 */
function itemPopularity(histories: readonly RecHistory[], indexOf: ReadonlyMap<string, number>, builtAtMs: number, halfLifeDays: number) {
  const nItems = indexOf.size;
  const popularity = new Float64Array(nItems);
  const viewPopularity = new Float64Array(nItems);
  const buyers = new Int32Array(nItems);
  for (const h of histories) {
    const lastBought = new Map<number, number>();
    const lastSeen = new Map<number, number>();
    for (const e of h.events) {
      const i = indexOf.get(e.itemId);
      if (i === undefined) continue;
      const map = e.kind === "purchase" ? lastBought : lastSeen;
      if ((map.get(i) ?? -Infinity) < e.ts) map.set(i, e.ts);
    }
    for (const [i, ts] of lastBought) {
      buyers[i]!++;
      popularity[i]! += decayFactor(builtAtMs - ts, halfLifeDays);
    }
    for (const [i, ts] of lastSeen) viewPopularity[i]! += 0.01 * decayFactor(builtAtMs - ts, halfLifeDays);
  }
  for (let i = 0; i < nItems; i++) popularity[i]! += Math.min(viewPopularity[i]!, 0.009);
  return { popularity, buyers };
}

/** The same fitted model with popularity decayed over another half-life: only the popularity rankings change, so nothing else is refitted. */
export function withPopularityHalfLife(model: Recommender, histories: readonly RecHistory[], halfLifeDays: number): Recommender {
  const held = new Set(model.customerIds);
  const { popularity, buyers } = itemPopularity(histories.filter((h) => held.has(h.customerId)), model.indexOf, model.builtAtMs, halfLifeDays);
  return { ...model, options: { ...model.options, popularityHalfLifeDays: halfLifeDays }, popularity, buyers, ...popularityRankings(popularity, model.categories) };
}

/** idf^(2·exponent) per item; also sets each user's norm under these weights. */
export function similarityWeights(users: readonly SparseVector[], usersByItem: Recommender["usersByItem"], options: RecommenderOptions) {
  const nItems = usersByItem.start.length - 1;
  const weight = new Float64Array(nItems);
  for (let i = 0; i < nItems; i++) {
    const df = usersByItem.start[i + 1]! - usersByItem.start[i]!;
    weight[i] = Math.pow(Math.log(1 + users.length / Math.max(1, df)), 2 * options.idfExponent);
  }
  for (const u of users) u.norm = weightedNorm(u, weight);
  return weight;
}

export function weightedNorm(v: SparseVector, weight: Float64Array): number {
  let sq = 0;
  for (let x = 0; x < v.item.length; x++) sq += v.weight[x]! ** 2 * weight[v.item[x]!]!;
  return Math.sqrt(sq);
}


/** Max over a customer's events of kind weight × decay from `nowMs`; unknown items are skipped. */
export function customerVector(events: readonly RecEvent[], indexOf: Map<string, number>, options: RecommenderOptions, nowMs: number): SparseVector {
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

export function rankByPopularity(items: Int32Array, popularity: Float64Array): Int32Array {
  return Int32Array.from([...items].sort((a, b) => popularity[b]! - popularity[a]! || a - b));
}

/** Items most popular first, overall and per category (at most 200 per category). */
export function popularityRankings(popularity: Float64Array, categories: readonly (string | undefined)[]) {
  const popularOrder = rankByPopularity(Int32Array.from({ length: popularity.length }, (_, i) => i), popularity);
  const membersByCategory = new Map<string, number[]>();
  categories.forEach((c, i) => c !== undefined && (membersByCategory.get(c) ?? membersByCategory.set(c, []).get(c)!).push(i));
  const popularByCategory = new Map<string, Int32Array>();
  for (const [c, members] of membersByCategory)
    popularByCategory.set(c, rankByPopularity(Int32Array.from(members), popularity).slice(0, 200));
  return { popularOrder, popularByCategory };
}

export function invertUsers(users: readonly SparseVector[], nItems: number) {
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
    rebuy: model.rebuy,
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
  rebuy: rebuyProfileSchema.optional(),
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
    rebuy: s.rebuy ?? { repeatShare: 0, isRebought: false, cycleDays: {} },
  };
}
