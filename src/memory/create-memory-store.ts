import type { Config } from "../config/schema";
import type { RedisClient } from "../redis/connection";
import { keyspace } from "../redis/keys";
import { openEmbeddedStore } from "./embedded-store";
import type { CustomerVectorOptions, MemoryMeta, MemoryStore } from "./memory-store";
import { openQdrantStore } from "./qdrant-store";
import { QdrantRest } from "./qdrant-rest";
import { checkQdrantServer } from "./qdrant-version";

type MemoryConfig = Pick<Config, "QDRANT_URL" | "QDRANT_API_KEY" | "LIFELINE_DATA_DIR" | "LIFELINE_KEY_PREFIX" | "LIFELINE_STREAM_PARTITIONS">;

export type MemoryStoreDeps = CustomerVectorOptions & {
  /** The Qdrant store keeps each customer's running sums in Redis, beside the profile. */
  redis?: RedisClient;
};

/**
 * Qdrant when `QDRANT_URL` is set, otherwise the embedded store in `LIFELINE_DATA_DIR`.
 * `embedder` names the model whose vectors the memory holds; another model is refused.
 */
export function createMemoryStore(config: MemoryConfig, embedder: MemoryMeta, { redis, ...options }: MemoryStoreDeps = {}): Promise<MemoryStore> {
  const meta = { modelId: embedder.modelId, dimensions: embedder.dimensions, ...options };
  if (!config.QDRANT_URL) return openEmbeddedStore({ dataDir: config.LIFELINE_DATA_DIR, ...meta });
  if (!redis) throw new Error("the Qdrant memory needs the Redis connection: its customer sums live there");
  return openQdrantStore({
    url: config.QDRANT_URL,
    apiKey: config.QDRANT_API_KEY,
    prefix: config.LIFELINE_KEY_PREFIX,
    redis,
    keys: keyspace(config.LIFELINE_KEY_PREFIX, config.LIFELINE_STREAM_PARTITIONS),
    ...meta,
  });
}

/**
 * Start-up check of the memory server, before anything else runs: with QDRANT_URL set, refuses a
 * Qdrant that is unreachable or too old, with a message naming its version and the minimum.
 */
export async function checkMemoryServer(config: Pick<Config, "QDRANT_URL" | "QDRANT_API_KEY">): Promise<void> {
  if (!config.QDRANT_URL) return;
  await checkQdrantServer(new QdrantRest({ url: config.QDRANT_URL, apiKey: config.QDRANT_API_KEY, timeoutMs: 10_000 }));
}
