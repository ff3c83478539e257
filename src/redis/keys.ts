/**
 * Every Redis key Lifeline uses is named here. Keys that a script or MULTI touches together
 * share a hash tag ({p3}, {c:alice}) so they live in one Cluster slot.
 */
export type Keyspace = ReturnType<typeof keyspace>;

export function keyspace(prefix: string, partitions: number) {
  return {
    prefix,
    partitions,
    partitionOf: (customerKey: string) => fnv1a(customerKey) % partitions,
    stream: (partition: number) => `${prefix}:{p${partition}}:events`,
    /** messageIds accepted in one time bucket of the dedup window. */
    dedupBucket: (partition: number, bucket: number) => `${prefix}:{p${partition}}:seen:${bucket}`,
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
