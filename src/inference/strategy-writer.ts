/**
 * Writes a retention strategy with an OpenAI-compatible LLM, and always answers: when the LLM
 * is not configured, the circuit is open, or every attempt failed, the deterministic fallback
 * playbook answers instead, marked `source: "fallback"` with the reason. Runs in the inference
 * worker, never on the ingest path.
 *
 * Retries (ours; the SDK's are off so each attempt is counted and the backoff is ours): 408,
 * 429, 5xx, timeouts, connection failures, unreadable bodies, and answers that are not JSON or
 * break the schema (models are not deterministic; the next answer may be fine). A 429 or 503
 * `Retry-After` is honoured; one longer than `maxDelayMs` ends the retries. All attempts and
 * waits of one answer fit in `budgetMs`, so a scoring request waiting for it is answered in time.
 * The circuit breaker counts each failed attempt the moment it fails (a timeout as soon as it
 * times out), and an answer still retrying stops when the circuit opens.
 */
import OpenAI from "openai";
import type { Logger } from "pino";
import { backoffDelayMs, retryAfterMs } from "../embeddings/retry-delay.ts";
import { upstreamMessage } from "../embeddings/upstream-message.ts";
import type { CircuitBreaker } from "./circuit-breaker.ts";
import { fallbackStrategy } from "./fallback-playbook.ts";
import type { StrategyContext } from "./strategy-context.ts";
import { buildStrategyMessages, promptMessageIds } from "./strategy-prompt.ts";
import { retentionStrategyJsonSchema, retentionStrategySchema, type RetentionStrategy, type StrategyResult } from "./strategy-schema.ts";

/**
 * Per HTTP attempt: "retry" when it failed and another attempt follows; "ok", "timeout" or
 * "error" for the attempt that ends the LLM call. Per answer from the playbook: "fallback",
 * preceded by "breaker_open" when the circuit kept the LLM from being called.
 */
export type StrategyOutcome = "ok" | "retry" | "timeout" | "error" | "fallback" | "breaker_open";

export type StrategyWriterOptions = {
  /** e.g. https://api.openai.com/v1 or http://localhost:11434/v1; with neither this nor `apiKey` the LLM is not called. */
  baseURL?: string;
  /** Local servers need none; then a placeholder is sent. */
  apiKey?: string;
  model: string;
  /** Per HTTP attempt (less when the budget has less left). @defaultValue 20000 */
  timeoutMs?: number;
  /** All attempts and waits of one answer; then the playbook answers. @defaultValue 60000 */
  budgetMs?: number;
  /** Retries after the first attempt. @defaultValue 2 */
  maxRetries?: number;
  breaker: CircuitBreaker;
  /** @defaultValue 500 */
  backoffBaseMs?: number;
  /** Cap of one backoff step; a longer Retry-After ends the retries. @defaultValue 10000 */
  maxDelayMs?: number;
  /**
   * How structured output is asked for. "json_schema" sends the strategy schema (strict);
   * servers that reject it with a 400 are asked again with "json_object" from then on.
   * @defaultValue "json_schema"
   */
  responseFormat?: "json_schema" | "json_object";
  /** `failure` names what went wrong (model, endpoint, the server's message) for "retry", "timeout" and "error". */
  onOutcome?: (outcome: StrategyOutcome, failure?: string) => void;
  log?: Logger;
  /** For tests. */
  sleep?: (ms: number) => Promise<void>;
};

export type StrategyWriter = {
  /** False when no LLM is configured: every answer is the playbook, which needs no retrieved context. */
  readonly usesLlm: boolean;
  /** Never throws; `source` says who wrote the strategy. */
  write(ctx: StrategyContext): Promise<StrategyResult>;
};

type Attempt =
  | { kind: "ok"; strategy: RetentionStrategy }
  | { kind: "fail"; reason: string; isRetryable: boolean; isTimeout: boolean; waitMs?: number; isFormatRejected?: boolean };

const NOT_CONFIGURED = "llm not configured";
/** Below this much budget left, another attempt is not worth starting. */
const MIN_ATTEMPT_MS = 500;

export function createStrategyWriter(opts: StrategyWriterOptions): StrategyWriter {
  const report = (o: StrategyOutcome, failure?: string) => opts.onOutcome?.(o, failure);
  const fallback = (ctx: StrategyContext, reason: string): StrategyResult => {
    report("fallback");
    // Without an LLM configured the playbook is the normal path, not a failure worth a warning.
    if (reason === NOT_CONFIGURED) opts.log?.debug({ customerId: ctx.customerId, reason }, "retention strategy from fallback playbook");
    else opts.log?.warn({ customerId: ctx.customerId, reason }, "retention strategy from fallback playbook");
    return { strategy: fallbackStrategy(ctx), source: "fallback", fallbackReason: reason };
  };

  if (!opts.apiKey && !opts.baseURL) return { usesLlm: false, write: async (ctx) => fallback(ctx, NOT_CONFIGURED) };

  const client = new OpenAI({
    baseURL: opts.baseURL,
    apiKey: opts.apiKey || "not-needed",
    maxRetries: 0,
    timeout: opts.timeoutMs ?? 20_000,
  });
  const maxRetries = opts.maxRetries ?? 2;
  const maxDelayMs = opts.maxDelayMs ?? 10_000;
  const timeoutMs = opts.timeoutMs ?? 20_000;
  const budgetMs = opts.budgetMs ?? 60_000;
  const where = `LLM ${opts.model} at ${opts.baseURL ?? "https://api.openai.com/v1"}`;
  const sleep = opts.sleep ?? Bun.sleep;
  let format = opts.responseFormat ?? "json_schema";

  const attempt = async (ctx: StrategyContext, attemptTimeoutMs: number): Promise<Attempt> => {
    try {
      const completion: unknown = await client.chat.completions.create(
        {
          model: opts.model,
          messages: buildStrategyMessages(ctx),
          response_format:
            format === "json_schema"
              ? { type: "json_schema", json_schema: { name: "retention_strategy", schema: retentionStrategyJsonSchema(), strict: true } }
              : { type: "json_object" },
        },
        { timeout: attemptTimeoutMs },
      );
      return readCompletion(completion, promptMessageIds(ctx));
    } catch (err) {
      return classify(err, format, attemptTimeoutMs);
    }
  };

  const callLlm = async (ctx: StrategyContext): Promise<StrategyResult> => {
    const deadline = Date.now() + budgetMs;
    for (let n = 0; ; n++) {
      const result = await attempt(ctx, Math.max(1, Math.min(timeoutMs, deadline - Date.now())));
      if (result.kind === "ok") {
        report("ok");
        opts.breaker.onSuccess();
        return { strategy: result.strategy, source: "llm", model: opts.model };
      }
      const reason = `${where}: ${result.reason}`;
      if (result.isFormatRejected) {
        // Not the model's fault and not worth a backoff: ask again the way this server understands.
        opts.log?.warn({ reason }, "LLM server rejects json_schema response_format; using json_object");
        format = "json_object";
        report("retry", reason);
        n--;
        continue;
      }
      opts.breaker.onFailure();
      const attempts = `after ${n + 1} attempt${n === 0 ? "" : "s"}`;
      const delayMs = result.waitMs ?? backoffDelayMs(n, opts.backoffBaseMs ?? 500, maxDelayMs);
      const stop = !result.isRetryable || n >= maxRetries || delayMs > maxDelayMs
        ? attempts
        : opts.breaker.state() === "open"
          ? `${attempts}; the circuit opened`
          : delayMs + MIN_ATTEMPT_MS > deadline - Date.now()
            ? `${attempts}; the ${budgetMs} ms budget is spent`
            : undefined;
      if (stop) {
        report(result.isTimeout ? "timeout" : "error", reason);
        return fallback(ctx, `${reason} (${stop})`);
      }
      report("retry", reason);
      await sleep(delayMs);
      // Other answers' failures may have opened the circuit while this one waited.
      if (opts.breaker.state() === "open") {
        report("error", reason);
        return fallback(ctx, `${reason} (${attempts}; the circuit opened)`);
      }
    }
  };

  return {
    usesLlm: true,
    async write(ctx) {
      if (!opts.breaker.tryAcquire()) {
        report("breaker_open");
        return fallback(ctx, "circuit open");
      }
      try {
        return await callLlm(ctx);
      } catch (err) {
        // Only a bug gets here (every failure of a call is an Attempt); still answer, still count it.
        opts.breaker.onFailure();
        report("error", `${where}: unexpected error`);
        opts.log?.error({ err, customerId: ctx.customerId }, "strategy writer failed unexpectedly");
        return fallback(ctx, "unexpected error");
      }
    },
  };
}

type Completion = { choices?: { message?: { content?: string | null; refusal?: string | null }; finish_reason?: string }[] };

function readCompletion(completion: unknown, allowedIds: Set<string>): Attempt {
  const choice = (completion as Completion | null)?.choices?.[0];
  if (choice?.message?.refusal) return { kind: "fail", reason: "the model refused", isRetryable: false, isTimeout: false };
  const content = choice?.message?.content;
  if (!content) return { kind: "fail", reason: "answer was empty", isRetryable: true, isTimeout: false };
  if (choice.finish_reason === "length") return { kind: "fail", reason: "answer was cut off", isRetryable: true, isTimeout: false };
  const json = parseJsonObject(content);
  if (json === undefined) return { kind: "fail", reason: "answer was not JSON", isRetryable: true, isTimeout: false };
  const parsed = retentionStrategySchema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    return { kind: "fail", reason: `answer broke the schema (${where.join("; ")})`, isRetryable: true, isTimeout: false };
  }
  const strategy = parsed.data;
  // Grounding: a cited id the prompt never showed is made up.
  return { kind: "ok", strategy: { ...strategy, citedMessageIds: strategy.citedMessageIds.filter((id) => allowedIds.has(id)) } };
}

/**
 * Servers that ignore `response_format` often wrap JSON in a ```json fence or a sentence;
 * take the outermost object.
 */
export function parseJsonObject(content: string): unknown {
  const start = content.indexOf("{");
  const end = content.lastIndexOf("}");
  if (start < 0 || end <= start) return undefined;
  try {
    const value: unknown = JSON.parse(content.slice(start, end + 1));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Translates the SDK's failures at the edge, deciding retry once. */
function classify(err: unknown, format: "json_schema" | "json_object", timeoutMs: number): Attempt {
  if (err instanceof OpenAI.APIConnectionTimeoutError) return { kind: "fail", reason: `timed out after ${timeoutMs} ms`, isRetryable: true, isTimeout: true };
  if (err instanceof OpenAI.APIConnectionError)
    return { kind: "fail", reason: `connection failed (${upstreamMessage(err.cause ?? err)})`, isRetryable: true, isTimeout: false };
  if (err instanceof OpenAI.APIError && err.status !== undefined) {
    const isRetryable = err.status === 408 || err.status === 429 || err.status >= 500;
    const isFormatRejected = format === "json_schema" && err.status === 400 && /response_format|json_schema/i.test(err.message);
    return {
      kind: "fail",
      reason: `HTTP ${err.status}: ${upstreamMessage(err)}`,
      isRetryable,
      isTimeout: false,
      isFormatRejected,
      waitMs: isRetryable ? retryAfterMs(err.headers) : undefined,
    };
  }
  // The SDK could not read the body (e.g. invalid JSON under application/json): a proxy or server glitch.
  return { kind: "fail", reason: `response unreadable (${upstreamMessage(err)})`, isRetryable: true, isTimeout: false };
}
