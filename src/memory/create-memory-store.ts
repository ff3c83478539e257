import type { Config } from "../config/schema";
import { openEmbeddedStore } from "./embedded-store";
import type { CustomerVectorOptions, MemoryMeta, MemoryStore } from "./memory-store";
import { openQdrantStore } from "./qdrant-store";

/**
 * Qdrant when `QDRANT_URL` is set, otherwise the embedded store in `LIFELINE_DATA_DIR`.
 * `embedder` names the model whose vectors the memory holds; another model is refused.
 */
export function createMemoryStore(
  config: Pick<Config, "QDRANT_URL" | "QDRANT_API_KEY" | "LIFELINE_DATA_DIR" | "LIFELINE_KEY_PREFIX">,
  embedder: MemoryMeta,
  options: CustomerVectorOptions = {},
): Promise<MemoryStore> {
  const meta = { modelId: embedder.modelId, dimensions: embedder.dimensions, ...options };
  if (config.QDRANT_URL)
    return openQdrantStore({ url: config.QDRANT_URL, apiKey: config.QDRANT_API_KEY, prefix: config.LIFELINE_KEY_PREFIX, ...meta });
  return openEmbeddedStore({ dataDir: config.LIFELINE_DATA_DIR, ...meta });
}
