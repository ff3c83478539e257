import type { ImportEvent } from "./mapping";

export type BatchResult = {
  accepted: number;
  duplicates: number;
  rejected: Array<{ index: number; messageId?: string | null; errors: Array<{ path: string; message: string }> }>;
};

/** The API refused the import for a reason a retry cannot fix (bad key, bad request). */
export class ImportFatalError extends Error {}

/** The batch is over the API's size limits; split it. */
export class BatchTooLargeError extends Error {}

export type ApiClientOptions = {
  url: string;
  key: string;
  /** Give up on a batch after this many failed attempts (network errors, 5xx). @defaultValue 8 */
  maxAttempts?: number;
  /** Stop waiting on 429/503 after this long in total for one batch. @defaultValue 600_000 */
  maxWaitMs?: number;
  onWait?: (reason: string, ms: number) => void;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
};

/** Seconds or an HTTP date, as Retry-After carries them; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, nowMs = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Exponential backoff with full jitter: 250 ms, 500 ms, … capped at 30 s. */
export const backoffMs = (attempt: number, random = Math.random) => Math.round(Math.min(30_000, 250 * 2 ** attempt) * (0.5 + random() / 2));

/** Posts batches to /v1/batch, retrying what a retry can fix. */
export function createApiClient(opts: ApiClientOptions) {
  const doFetch = opts.fetch ?? fetch;
  const sleep = opts.sleep ?? Bun.sleep;
  const maxAttempts = opts.maxAttempts ?? 8;
  const maxWaitMs = opts.maxWaitMs ?? 600_000;
  const base = opts.url.replace(/\/+$/, "");

  async function sendBatch(events: ImportEvent[], body = JSON.stringify({ batch: events })): Promise<BatchResult> {
    let failures = 0;
    let waitedMs = 0;
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await doFetch(`${base}/v1/batch`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${opts.key}` },
          body,
        });
      } catch (err) {
        if (++failures >= maxAttempts) throw new Error(`the API at ${base} is unreachable after ${failures} attempts: ${(err as Error).message}`, { cause: err });
        const ms = backoffMs(failures);
        opts.onWait?.(`API unreachable (${(err as Error).message})`, ms);
        await sleep(ms);
        continue;
      }
      const text = await res.text();
      const json = parseJson(text);
      if (res.status === 200 || (res.status === 400 && isBatchResult(json))) return json as BatchResult;
      if (res.status === 413) throw new BatchTooLargeError(messageOf(json, text));
      if (res.status === 429 || res.status === 503) {
        const ms = retryAfterMs(res.headers.get("retry-after")) ?? backoffMs(Math.min(attempt, 6));
        if (waitedMs + ms > maxWaitMs) throw new Error(`the API kept answering ${res.status} for ${Math.round(waitedMs / 1000)} s; rerun later to resume`);
        waitedMs += ms;
        opts.onWait?.(res.status === 429 ? "rate limited (429)" : `API unavailable (503: ${messageOf(json, text)})`, ms);
        await sleep(ms);
        continue;
      }
      if (res.status === 401 || res.status === 403)
        throw new ImportFatalError(`the API refused the write key (${res.status}): pass --key <write key> or set LIFELINE_WRITE_KEY`);
      if (res.status >= 500) {
        if (++failures >= maxAttempts) throw new Error(`the API failed ${failures} times (last: ${res.status} ${messageOf(json, text)}); rerun to resume`);
        const ms = backoffMs(failures);
        opts.onWait?.(`API error ${res.status}`, ms);
        await sleep(ms);
        continue;
      }
      throw new ImportFatalError(`the API answered ${res.status}: ${messageOf(json, text)}`);
    }
  }

  /** GET /ready: the pipeline's own verdict on whether to take more (503 = wait). */
  async function ready(): Promise<{ status: number; body: unknown; retryAfterMs?: number }> {
    const res = await doFetch(`${base}/ready`);
    const text = await res.text();
    return { status: res.status, body: parseJson(text), retryAfterMs: retryAfterMs(res.headers.get("retry-after")) };
  }

  return { sendBatch, ready };
}
export type ApiClient = ReturnType<typeof createApiClient>;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const isBatchResult = (v: unknown): v is BatchResult =>
  typeof v === "object" && v !== null && typeof (v as BatchResult).accepted === "number" && Array.isArray((v as BatchResult).rejected);

function messageOf(json: unknown, text: string): string {
  if (typeof json === "object" && json !== null) {
    const { message, error } = json as { message?: unknown; error?: unknown };
    if (typeof message === "string") return message;
    if (typeof error === "string") return error;
  }
  return text.slice(0, 200);
}
