import type { Config } from "../config";
import { createEmbedder } from "../embeddings/create-embedder";
import type { Embedder } from "../embeddings/embedder";
import { createMemoryStore } from "../memory/create-memory-store";
import type { MemoryStore } from "../memory/memory-store";
import type { RedisClient } from "../redis/connection";

export type Semantic = { embedder: Embedder; store: MemoryStore };

/** The embedder and vector memory the API reads with, opened once on first use. */
export type SemanticMemory = { open(): Promise<Semantic>; close(): Promise<void> };

/**
 * Opening is lazy because the local model may convert its cache first (seconds): the API serves
 * ingest at once, and the first memory request waits. A failed open is tried again next time.
 */
export function lazySemanticMemory(config: Config, redis: RedisClient): SemanticMemory {
  let opening: Promise<Semantic> | undefined;
  return {
    open() {
      opening ??= (async () => {
        const embedder = await createEmbedder(config);
        const store = await createMemoryStore(config, embedder, { redis });
        await store.init();
        return { embedder, store };
      })().catch((err: unknown) => {
        opening = undefined;
        throw err;
      });
      return opening;
    },
    async close() {
      const current = opening;
      opening = undefined;
      if (current) await (await current.catch(() => undefined))?.store.close();
    },
  };
}

/** Memory opened elsewhere (tests share one store between the API and in-process workers). */
export function openedSemanticMemory(semantic: Semantic): SemanticMemory {
  return { open: async () => semantic, close: async () => {} };
}
