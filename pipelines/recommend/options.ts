import type { RecKind } from "./history";

export type BlendWeights = {
  /** user-based neighbours: what similar customers bought */
  users: number;
  /** item–item neighbours from the customer's items */
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
  /** neighbours kept per item for item–item lists and transitions */
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
  /** @defaultValue true: purchased items are never recommended again (a re-bought catalogue gets a buy-again list instead) */
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
