/**
 * Every Redis key Lifeline uses is named here. Keys that a script or MULTI touches together
 * share a hash tag ({p3}, {c:alice}) so they live in one Cluster slot.
 */
const CUSTOMER_SHARDS = 16;

export type Keyspace = ReturnType<typeof keyspace>;

export function keyspace(prefix: string, partitions: number) {
  return {
    prefix,
    partitions,
    partitionOf: (customerKey: string) => fnv1a(customerKey) % partitions,
    stream: (partition: number) => `${prefix}:{p${partition}}:events`,
    /** messageIds accepted in one time bucket of the dedup window. */
    dedupBucket: (partition: number, bucket: number) => `${prefix}:{p${partition}}:seen:${bucket}`,
    /** Structured profile of one customer: hash {json, v}. */
    profile: (customerId: string) => `${prefix}:{c:${customerId}}:profile`,
    /** messageIds already applied to the profile (written atomically with it). */
    applied: (customerId: string) => `${prefix}:{c:${customerId}}:applied`,
    /** Cleaned events of a customer known only by anonymousId, replayed into the customer when identified. */
    anonymousEvents: (customerId: string) => `${prefix}:{c:${customerId}}:events`,
    /** Running sums of the customer vector in the Qdrant memory: hash {sum, weight, refTs, v}. */
    customerSums: (customerId: string) => `${prefix}:{c:${customerId}}:sums`,
    /** Events those sums count: point id → fingerprint of the version counted (written with them). */
    customerSumEvents: (customerId: string) => `${prefix}:{c:${customerId}}:sums:events`,
    /** Set by erasure, with a TTL: events of this customer still in flight are dropped, not applied. */
    erased: (customerId: string) => `${prefix}:{c:${customerId}}:erased`,
    /** anonymousId → the userId it was linked to by identify/alias. */
    identityLink: (anonymousId: string) => `${prefix}:{a:${anonymousId}}:link`,
    /** Customer ids, sharded so no single key takes every write. */
    customerShard: (shard: number) => `${prefix}:{cs${shard}}:customers`,
    customerShardOf: (customerId: string) => fnv1a(customerId) % CUSTOMER_SHARDS,
    customerShards: CUSTOMER_SHARDS,
    /** Recent events the clean stage could not use, with the reason. */
    dropped: () => `${prefix}:dropped`,
    /** The latest insight (churn, drivers, recommendations, strategy) of a customer. */
    insight: (customerId: string) => `${prefix}:{c:${customerId}}:insight`,
    /** Customers due a re-score: sorted set, score = when (ms), pushed back by each new event. */
    rescoreDue: () => `${prefix}:{rescore}:due`,
    /** Fitted churn artifacts (JSON) and their version, read by every worker. */
    churnArtifacts: () => `${prefix}:{model}:churn`,
    churnArtifactsVersion: () => `${prefix}:{model}:churn:version`,
    /** Fitted recommender (JSON) and its version. */
    recommender: () => `${prefix}:{model}:recs`,
    recommenderVersion: () => `${prefix}:{model}:recs:version`,
    /** Fit metadata of every model (hash: field per model → JSON), for GET /admin/models and the refit policy. */
    modelsMeta: () => `${prefix}:{model}:meta`,
    /** How much data there is (hash: customers, purchases), counted as profiles take events in. */
    dataStats: () => `${prefix}:{stats}:data`,
    /** Live counts between refits, in one slot: distinct buyers per item (sorted set), names (hash)… */
    liveBuyers: () => `${prefix}:{recs}:buyers`,
    liveNames: () => `${prefix}:{recs}:names`,
    /** …and per item, the items bought with it by how many customers (sorted set). */
    liveTogether: (itemId: string) => `${prefix}:{recs}:with:${itemId}`,
    /** Set once the live counts were rebuilt from every profile (at the first refit). */
    liveBuilt: () => `${prefix}:{recs}:built`,
    allStreams: () => Array.from({ length: partitions }, (_, p) => `${prefix}:{p${p}}:events`),
  };
}

/** 32-bit FNV-1a over UTF-16 code units: fast, stable across processes and releases. */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
