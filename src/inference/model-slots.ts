import { deserialiseRecommender, serialiseRecommender, type Recommender } from "../../pipelines/recommend";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";
import { churnArtifactsSchema, type ChurnArtifacts } from "./churn-artifacts";
import { modelSlot } from "./model-store";

/** Where the fitted churn artifacts and recommender live in Redis, and how they are written. */
export function modelSlots(redis: RedisClient, keys: Keyspace) {
  return {
    churn: modelSlot<ChurnArtifacts>(redis, keys.churnArtifacts(), keys.churnArtifactsVersion(), {
      parse: (text) => churnArtifactsSchema.parse(JSON.parse(text)),
      serialise: (m) => JSON.stringify(m),
      version: (m) => `${m.version}@${m.trainedAt}`,
    }),
    recommender: modelSlot<Recommender>(redis, keys.recommender(), keys.recommenderVersion(), {
      parse: deserialiseRecommender,
      serialise: serialiseRecommender,
      version: (m) => `recs-${m.builtAtMs}-${m.itemIds.length}-${m.customerIds.length}`,
    }),
  };
}
