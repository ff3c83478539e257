import { ConfigError } from "../config/load";
import { StartupError } from "../errors/startup-error";
import type { Config } from "../config/schema";
import { createCircuitBreaker } from "../inference/circuit-breaker";
import type { Embedder } from "./embedder";
import { createLocalEmbedder, DEFAULT_LOCAL_VOCAB_SIZE } from "./local-model";
import { createOnnxEmbedder } from "./onnx-model";
import { createOpenAICompatibleEmbedder, type EmbedOutcome } from "./openai-compatible";

/** Overrides of the config's embedding settings; each names the env variable it overrides. */
export type EmbedderSettings = {
  /** LIFELINE_LOCAL_VOCAB_SIZE. @defaultValue 100000 */
  localVocabSize?: number;
  /** LIFELINE_EMBEDDING_DIMENSIONS. @defaultValue known for OpenAI's models, required for others */
  dimensions?: number;
  /** LIFELINE_EMBEDDING_BATCH_SIZE. @defaultValue 128 */
  batchSize?: number;
  /** LIFELINE_EMBEDDING_TIMEOUT_MS. @defaultValue 30000 */
  timeoutMs?: number;
  /** LIFELINE_EMBEDDING_MAX_RETRIES. @defaultValue 4 */
  maxRetries?: number;
  /** For metrics and /ready: one call per HTTP attempt of the openai provider, with what went wrong. */
  onOutcome?: (outcome: EmbedOutcome, failure?: string) => void;
};

const knownDimensions: Record<string, number> = {
  "text-embedding-3-small": 1536,
  "text-embedding-3-large": 3072,
  "text-embedding-ada-002": 1536,
};

const OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1";

export async function createEmbedder(config: Config, opts: EmbedderSettings = {}): Promise<Embedder> {
  if (config.EMBEDDINGS_PROVIDER === "onnx")
    return createOnnxEmbedder({ modelDir: config.LIFELINE_ONNX_MODEL_DIR!, maxTokens: config.LIFELINE_ONNX_MAX_TOKENS, batchSize: opts.batchSize ?? config.LIFELINE_EMBEDDING_BATCH_SIZE });
  if (config.EMBEDDINGS_PROVIDER === "local") {
    const dataDir = config.LIFELINE_MODEL_CACHE_DIR ?? config.LIFELINE_DATA_DIR;
    try {
      return await createLocalEmbedder({ dataDir, vocabSize: opts.localVocabSize ?? config.LIFELINE_LOCAL_VOCAB_SIZE ?? DEFAULT_LOCAL_VOCAB_SIZE });
    } catch (err) {
      const setting = config.LIFELINE_MODEL_CACHE_DIR ? "LIFELINE_MODEL_CACHE_DIR" : "LIFELINE_DATA_DIR";
      throw new StartupError(`the local embedding model cannot be cached in ${dataDir} (${setting}): ${(err as Error).message}; point ${setting} at a writable folder`, { cause: err });
    }
  }
  const model = config.LIFELINE_EMBEDDING_MODEL;
  const dimensions = opts.dimensions ?? config.LIFELINE_EMBEDDING_DIMENSIONS ?? knownDimensions[model];
  if (dimensions === undefined)
    throw new ConfigError(`fix these settings:\n  LIFELINE_EMBEDDING_DIMENSIONS: required for model ${model} (its vector length)`);
  return createOpenAICompatibleEmbedder({
    baseURL: config.OPENAI_BASE_URL ?? OPENAI_DEFAULT_BASE_URL,
    // Self-hosted OpenAI-compatible servers often need no key, but the client insists on one.
    apiKey: config.OPENAI_API_KEY ?? "unused",
    model,
    dimensions,
    batchSize: opts.batchSize ?? config.LIFELINE_EMBEDDING_BATCH_SIZE,
    timeoutMs: opts.timeoutMs ?? config.LIFELINE_EMBEDDING_TIMEOUT_MS,
    maxRetries: opts.maxRetries ?? config.LIFELINE_EMBEDDING_MAX_RETRIES,
    breaker: createCircuitBreaker({
      failureThreshold: config.LIFELINE_EMBEDDING_BREAKER_FAILURES,
      cooldownMs: config.LIFELINE_EMBEDDING_BREAKER_COOLDOWN_MS,
      maxCooldownMs: config.LIFELINE_EMBEDDING_BREAKER_MAX_COOLDOWN_MS,
    }),
    onOutcome: opts.onOutcome,
  });
}
