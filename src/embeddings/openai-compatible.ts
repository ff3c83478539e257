import OpenAI from "openai";
import { z } from "zod";
import { UpstreamError } from "../errors/upstream-error";
import { UpstreamTimeoutError } from "../errors/upstream-timeout-error";
import type { Embedder } from "./embedder";
import { l2NormaliseInPlace } from "./l2-normalise";
import { backoffDelayMs, retryAfterMs } from "./retry-delay";

/**
 * One per HTTP attempt: "retry" when it failed and another attempt follows; "ok", "timeout"
 * or "error" for the attempt that ends a batch.
 */
export type EmbedOutcome = "ok" | "retry" | "timeout" | "error";

export type OpenAICompatibleEmbedderOptions = {
  /** e.g. https://api.openai.com/v1 or http://localhost:11434/v1 */
  baseURL: string;
  apiKey: string;
  model: string;
  /** Expected vector length; a response of another length is an error. */
  dimensions: number;
  /**
   * Ask the server for `dimensions` (only models with adjustable output accept it).
   * @defaultValue true for OpenAI's text-embedding-3-* models
   */
  sendDimensions?: boolean;
  /** @defaultValue 128 texts per request */
  batchSize?: number;
  /** Per HTTP attempt. @defaultValue 30000 */
  timeoutMs?: number;
  /** Retries after the first attempt, on 429, 5xx, timeouts and connection failures. @defaultValue 4 */
  maxRetries?: number;
  /** @defaultValue 500 */
  backoffBaseMs?: number;
  /** Cap of one backoff step; a longer `Retry-After` stops retrying and is passed on in the error. @defaultValue 30000 */
  maxDelayMs?: number;
  onOutcome?: (outcome: EmbedOutcome) => void;
  /** For tests. */
  sleep?: (ms: number) => Promise<void>;
};

const responseSchema = z.object({
  data: z.array(z.object({ index: z.number().int().nonnegative(), embedding: z.array(z.number()) })),
});

type UpstreamFailure = UpstreamError | UpstreamTimeoutError;
type Attempt = { kind: "ok"; vectors: Float32Array[] } | { kind: "fail"; error: UpstreamFailure; isRetryable: boolean; isTimeout: boolean; waitMs?: number };

export function createOpenAICompatibleEmbedder(opts: OpenAICompatibleEmbedderOptions): Embedder {
  const batchSize = opts.batchSize ?? 128;
  // Our retry loop is the only one, so every attempt is counted and backoff is ours.
  const client = new OpenAI({ baseURL: opts.baseURL, apiKey: opts.apiKey, maxRetries: 0, timeout: opts.timeoutMs ?? 30_000 });
  const embedBatch = batchEmbedder(client, opts);
  return {
    modelId: `openai:${opts.model}:${opts.dimensions}`,
    dimensions: opts.dimensions,
    async embed(texts) {
      const out: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += batchSize) out.push(...(await embedBatch(texts.slice(i, i + batchSize))));
      return out;
    },
  };
}

function batchEmbedder(client: OpenAI, opts: OpenAICompatibleEmbedderOptions) {
  const maxRetries = opts.maxRetries ?? 4;
  const maxDelayMs = opts.maxDelayMs ?? 30_000;
  const sleep = opts.sleep ?? Bun.sleep;
  const sendDimensions = opts.sendDimensions ?? opts.model.startsWith("text-embedding-3");
  const report = (o: EmbedOutcome) => opts.onOutcome?.(o);

  const attempt = async (texts: string[]): Promise<Attempt> => {
    try {
      const res: unknown = await client.embeddings.create({
        model: opts.model,
        input: texts,
        encoding_format: "float",
        ...(sendDimensions ? { dimensions: opts.dimensions } : {}),
      });
      return { kind: "ok", vectors: toVectors(res, texts.length, opts.dimensions, opts.model) };
    } catch (err) {
      return classify(err, opts.model);
    }
  };

  return async (texts: string[]): Promise<Float32Array[]> => {
    for (let n = 0; ; n++) {
      const result = await attempt(texts);
      if (result.kind === "ok") {
        report("ok");
        return result.vectors;
      }
      const delayMs = result.waitMs ?? backoffDelayMs(n, opts.backoffBaseMs ?? 500, maxDelayMs);
      if (!result.isRetryable || n >= maxRetries || delayMs > maxDelayMs) {
        report(result.isTimeout ? "timeout" : "error");
        throw withAttempts(result.error, n + 1, result.waitMs);
      }
      report("retry");
      await sleep(delayMs);
    }
  };
}

function toVectors(body: unknown, count: number, dimensions: number, model: string): Float32Array[] {
  const parsed = responseSchema.safeParse(body);
  if (!parsed.success) throw new UpstreamError(`embeddings from ${model}: malformed response body`, { cause: parsed.error });
  const { data } = parsed.data;
  if (data.length !== count) throw new UpstreamError(`embeddings from ${model}: ${data.length} vectors for ${count} texts`);
  const out = new Array<Float32Array | undefined>(count);
  for (const item of data) {
    if (item.index >= count || out[item.index]) throw new UpstreamError(`embeddings from ${model}: bad or repeated index ${item.index}`);
    if (item.embedding.length !== dimensions)
      throw new UpstreamError(
        `embeddings from ${model}: vectors have ${item.embedding.length} dimensions, expected ${dimensions}; set LIFELINE_EMBEDDING_DIMENSIONS to match the model`,
        { details: { expected: dimensions, received: item.embedding.length } },
      );
    const v = Float32Array.from(item.embedding);
    if (!l2NormaliseInPlace(v)) throw new UpstreamError(`embeddings from ${model}: a zero or non-finite vector`);
    out[item.index] = v;
  }
  return out as Float32Array[];
}

/** Translates the SDK's failures into ours at the edge, deciding retry once. */
function classify(err: unknown, model: string): Attempt {
  if (err instanceof UpstreamError) return { kind: "fail", error: err, isRetryable: false, isTimeout: false };
  if (err instanceof OpenAI.APIConnectionTimeoutError)
    return { kind: "fail", error: new UpstreamTimeoutError(`embeddings from ${model} timed out`, { cause: err }), isRetryable: true, isTimeout: true };
  if (err instanceof OpenAI.APIConnectionError)
    return { kind: "fail", error: new UpstreamError(`embeddings from ${model}: connection failed`, { cause: err }), isRetryable: true, isTimeout: false };
  if (err instanceof OpenAI.APIError && err.status !== undefined) {
    const isRetryable = err.status === 408 || err.status === 429 || err.status >= 500;
    const error = new UpstreamError(`embeddings from ${model}: HTTP ${err.status}`, { cause: err, details: { status: err.status } });
    return { kind: "fail", error, isRetryable, isTimeout: false, waitMs: isRetryable ? retryAfterMs(err.headers) : undefined };
  }
  // The SDK could not parse the body (e.g. invalid JSON under application/json).
  return { kind: "fail", error: new UpstreamError(`embeddings from ${model}: unreadable response`, { cause: err }), isRetryable: false, isTimeout: false };
}

function withAttempts(error: UpstreamFailure, attempts: number, waitMs: number | undefined): UpstreamFailure {
  const Failure = error instanceof UpstreamTimeoutError ? UpstreamTimeoutError : UpstreamError;
  return new Failure(`${error.message} (after ${attempts} attempt${attempts === 1 ? "" : "s"})`, {
    cause: error.cause,
    details: { ...error.details, attempts },
    retryAfterSeconds: waitMs === undefined ? undefined : Math.ceil(waitMs / 1000),
  });
}
