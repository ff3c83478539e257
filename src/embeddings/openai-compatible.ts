import OpenAI from "openai";
import { z } from "zod";
import { UpstreamError } from "../errors/upstream-error";
import { UpstreamTimeoutError } from "../errors/upstream-timeout-error";
import { createCircuitBreaker, type CircuitBreaker } from "../inference/circuit-breaker";
import type { Embedder } from "./embedder";
import { l2NormaliseInPlace } from "./l2-normalise";
import { backoffDelayMs, retryAfterMs } from "./retry-delay";
import { upstreamMessage } from "./upstream-message";

/**
 * One per HTTP attempt: "retry" when it failed and another attempt follows; "ok", "timeout"
 * or "error" for the attempt that ends a batch. `failure` names what went wrong.
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
  /** Retries after the first attempt, on 429, 5xx, timeouts, connection failures and unreadable answers. @defaultValue 4 */
  maxRetries?: number;
  /** @defaultValue 500 */
  backoffBaseMs?: number;
  /** Cap of one backoff step; a longer `Retry-After` stops retrying and is passed on in the error. @defaultValue 30000 */
  maxDelayMs?: number;
  /**
   * Shared by every call of this embedder: consecutive failed attempts open it, and while it is
   * open calls fail at once (no request) with the time until the next trial.
   * @defaultValue 5 failures, 5 s cooldown doubling up to 5 min
   */
  breaker?: CircuitBreaker;
  onOutcome?: (outcome: EmbedOutcome, failure?: string) => void;
  /** For tests. */
  sleep?: (ms: number) => Promise<void>;
};

const responseSchema = z.object({
  data: z.array(z.object({ index: z.number().int().nonnegative(), embedding: z.array(z.number()) })),
});

/**
 * How a failed attempt ends:
 * - "outage": the provider is down, overloaded or garbled (408, 429, 5xx, timeout, connection,
 *   unreadable body). Retried here with backoff; the error then carries when to try again.
 * - "refused": the provider refuses our settings (401, 403, 404, vectors of another length).
 *   Not retried here, since every request would get the same answer; callers wait it out like an
 *   outage (a key is activated, a model is pulled) and /ready names it.
 * - "rejected": this request's input is refused (other 4xx). The provider works; not retried.
 */
type FailureKind = "outage" | "refused" | "rejected";
type Failure = { kind: "fail"; failureKind: FailureKind; message: string; isTimeout: boolean; cause?: unknown; details?: Record<string, unknown>; waitMs?: number };
type Attempt = { kind: "ok"; vectors: Float32Array[] } | Failure;

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
  const breaker = opts.breaker ?? createCircuitBreaker({ failureThreshold: 5, cooldownMs: 5_000, maxCooldownMs: 300_000 });
  const where = `embeddings from ${opts.model} at ${opts.baseURL}`;
  // One Retry-After for every call of the process: concurrent batches wait for it together.
  let pausedUntilMs = 0;
  let lastFailure = "";

  const attempt = async (texts: string[]): Promise<Attempt> => {
    try {
      const res: unknown = await client.embeddings.create({
        model: opts.model,
        input: texts,
        encoding_format: "float",
        ...(sendDimensions ? { dimensions: opts.dimensions } : {}),
      });
      return toVectors(res, texts.length, opts.dimensions, where);
    } catch (err) {
      return classify(err, where, opts.timeoutMs ?? 30_000);
    }
  };

  /** The error a batch ends with; one that may succeed later says when (retryAfterSeconds). */
  const failed = (f: Failure, attempts: number): UpstreamError | UpstreamTimeoutError => {
    const Failed = f.isTimeout ? UpstreamTimeoutError : UpstreamError;
    const againInMs = f.failureKind === "rejected" ? undefined : Math.max(1_000, f.waitMs ?? 0, pausedUntilMs - Date.now(), breaker.retryInMs());
    return new Failed(`${f.message} (after ${attempts} attempt${attempts === 1 ? "" : "s"})`, {
      cause: f.cause,
      details: { ...f.details, attempts },
      retryAfterSeconds: againInMs === undefined ? undefined : Math.ceil(againInMs / 1000),
    });
  };

  /** Waits out a shared Retry-After when it is short; throws when the provider must be left alone longer. */
  const gate = async () => {
    const pauseMs = pausedUntilMs - Date.now();
    if (pauseMs > maxDelayMs) throw new UpstreamError(`${where}: asked to wait ${Math.ceil(pauseMs / 1000)} s (last: ${lastFailure})`, { retryAfterSeconds: Math.ceil(pauseMs / 1000) });
    if (pauseMs > 0) await sleep(pauseMs);
    if (!breaker.tryAcquire())
      throw new UpstreamError(`${where}: paused after repeated failures (last: ${lastFailure})`, {
        retryAfterSeconds: Math.max(1, Math.ceil(breaker.retryInMs() / 1000)),
      });
  };

  return async (texts: string[]): Promise<Float32Array[]> => {
    for (let n = 0; ; n++) {
      await gate();
      const result = await attempt(texts);
      if (result.kind === "ok") {
        breaker.onSuccess();
        opts.onOutcome?.("ok");
        return result.vectors;
      }
      // A refused input says nothing against the provider; outages and refused settings count at once.
      if (result.failureKind === "rejected") breaker.onSuccess();
      else breaker.onFailure();
      lastFailure = result.message;
      if (result.waitMs !== undefined) pausedUntilMs = Math.max(pausedUntilMs, Date.now() + result.waitMs);
      const delayMs = result.waitMs ?? backoffDelayMs(n, opts.backoffBaseMs ?? 500, maxDelayMs);
      if (result.failureKind !== "outage" || n >= maxRetries || delayMs > maxDelayMs || breaker.state() === "open") {
        opts.onOutcome?.(result.isTimeout ? "timeout" : "error", result.message);
        throw failed(result, n + 1);
      }
      opts.onOutcome?.("retry", result.message);
      if (result.waitMs === undefined) await sleep(delayMs);
    }
  };
}

function toVectors(body: unknown, count: number, dimensions: number, where: string): Attempt {
  const garbled = (message: string, cause?: unknown): Failure => ({ kind: "fail", failureKind: "outage", message: `${where}: ${message}`, isTimeout: false, cause });
  const parsed = responseSchema.safeParse(body);
  if (!parsed.success) return garbled("malformed response body", parsed.error);
  const { data } = parsed.data;
  if (data.length !== count) return garbled(`${data.length} vectors for ${count} texts`);
  const out = new Array<Float32Array | undefined>(count);
  for (const item of data) {
    if (item.index >= count || out[item.index]) return garbled(`bad or repeated index ${item.index}`);
    if (item.embedding.length !== dimensions)
      return {
        kind: "fail",
        failureKind: "refused",
        message: `${where}: vectors have ${item.embedding.length} dimensions, expected ${dimensions}; set LIFELINE_EMBEDDING_DIMENSIONS to match the model`,
        isTimeout: false,
        details: { expected: dimensions, received: item.embedding.length },
      };
    const v = Float32Array.from(item.embedding);
    if (!l2NormaliseInPlace(v)) return garbled("a zero or non-finite vector");
    out[item.index] = v;
  }
  return { kind: "ok", vectors: out as Float32Array[] };
}

const SETTING_HINT: Record<number, string> = {
  401: "; check OPENAI_API_KEY",
  403: "; check OPENAI_API_KEY and the model's access",
  404: "; check LIFELINE_EMBEDDING_MODEL and OPENAI_BASE_URL",
};

/** Translates the SDK's failures into ours at the edge, deciding retry once. */
function classify(err: unknown, where: string, timeoutMs: number): Failure {
  const fail = (failureKind: FailureKind, message: string, extra: Partial<Failure> = {}): Failure => ({ kind: "fail", failureKind, message, isTimeout: false, cause: err, ...extra });
  if (err instanceof OpenAI.APIConnectionTimeoutError) return fail("outage", `${where}: timed out after ${timeoutMs} ms`, { isTimeout: true });
  if (err instanceof OpenAI.APIConnectionError) return fail("outage", `${where}: connection failed (${upstreamMessage(err.cause ?? err)})`);
  if (err instanceof OpenAI.APIError && err.status !== undefined) {
    const message = `${where}: HTTP ${err.status}: ${upstreamMessage(err)}${SETTING_HINT[err.status] ?? ""}`;
    const details = { status: err.status };
    if (err.status === 408 || err.status === 429 || err.status >= 500) return fail("outage", message, { details, waitMs: retryAfterMs(err.headers) });
    return fail(err.status in SETTING_HINT ? "refused" : "rejected", message, { details });
  }
  // The SDK could not parse the body (e.g. invalid JSON under application/json): a proxy or server glitch.
  return fail("outage", `${where}: unreadable response (${upstreamMessage(err)})`);
}
