/**
 * The recommender: a fitted model (recommend/model.ts), item lists (recommend/item-lists.ts),
 * one file per source of evidence (recommend/sources/), the blend (recommend/blend.ts), live
 * counts between refits (recommend/sources/live.ts) and the buy-again list of re-bought
 * catalogues (recommend/rebuy.ts).
 */
export { recommend } from "./recommend/blend";
export { DAY_MS, recEventSchema, recHistorySchema, recKindSchema, recommendationSchema, type RecEvent, type RecHistory, type RecKind, type Recommendation, type SourceName } from "./recommend/history";
export { buildRecommender, deserialiseRecommender, serialiseRecommender, withPopularityHalfLife, type Recommender } from "./recommend/model";
export { defaultRecommenderOptions, type BlendWeights, type RecommenderOptions } from "./recommend/options";
export { buyAgain, type RebuyProfile } from "./recommend/rebuy";
export { liveEvidenceSchema, liveIncrements, type LiveEvidence } from "./recommend/sources/live";
