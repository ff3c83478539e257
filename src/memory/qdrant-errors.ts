import { z } from "zod";
import { retryAfterMs } from "../embeddings/retry-delay";
import { LifelineError } from "../errors/lifeline-error";
import { StoreUnavailableError } from "../errors/store-unavailable-error";
import { UpstreamError } from "../errors/upstream-error";
import { UpstreamTimeoutError } from "../errors/upstream-timeout-error";

/** Qdrant's error body (ErrorResponse): `{"status": {"error": "…"}, "time": …}`. */
const errorBodySchema = z.object({ status: z.object({ error: z.string() }) });

type Answer = { status: number; body: unknown; headers: { get(name: string): string | null } };

/** What each HTTP status of Qdrant (src/actix/helpers.rs) means for the caller. */
const hints: Record<number, string> = {
  400: "Qdrant refused the request as invalid, or as against the collection's strict mode",
  401: "check QDRANT_API_KEY",
  403: "the API key may not do this (a read-only key?), or strict mode refused it (older servers answer it with 403)",
  404: "a collection is missing; was it deleted? Restart Lifeline to create it again",
  409: "it already exists",
  507: "Qdrant is out of disk",
};

/**
 * Translates one failed Qdrant answer by its status and keeps Qdrant's own message. 429 and 503
 * are "try again later" (with Retry-After, parsed whole); 408 is a timeout; other statuses are
 * upstream errors that say what Qdrant said.
 */
export function qdrantHttpError(operation: string, answer: Answer): LifelineError {
  const parsed = errorBodySchema.safeParse(answer.body);
  const said = parsed.success ? parsed.data.status.error : typeof answer.body === "string" && answer.body ? answer.body.slice(0, 300) : "";
  const hint = hints[answer.status];
  const message = `qdrant ${operation}: HTTP ${answer.status}${said ? `: ${said}` : ""}${hint ? ` (${hint})` : ""}`;
  const details = { status: answer.status, ...(said ? { qdrant: said } : {}) };
  const waitMs = retryAfterMs(answer.headers);
  const retryAfterSeconds = waitMs === undefined ? undefined : waitMs / 1000;
  if (answer.status === 429 || answer.status === 503) return new StoreUnavailableError(message, { details, retryAfterSeconds });
  if (answer.status === 408) return new UpstreamTimeoutError(message, { details });
  return new UpstreamError(message, { details });
}

/** fetch rejected: the client's own timeout, or no answer at all. */
export function qdrantNetworkError(operation: string, err: unknown, url: string, timeoutMs: number): LifelineError {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError"))
    return new UpstreamTimeoutError(`qdrant ${operation} timed out after ${timeoutMs} ms (the server may still apply a write)`, { cause: err });
  const why = err instanceof Error ? err.message : String(err);
  return new StoreUnavailableError(`qdrant ${operation}: Qdrant at ${url} is unreachable (${why})`, { cause: err });
}

/** A 2xx answer whose body is not what Qdrant's schema documents. */
export function qdrantAnswerError(operation: string, err: unknown): LifelineError {
  const why = err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ") : String(err);
  return new UpstreamError(`qdrant ${operation} returned an answer Lifeline cannot read: ${why}`, { cause: err });
}

/** Errors inside a store step: ours pass through, a zod failure on an answer is an answer error. */
export function translateQdrantError(operation: string, err: unknown): Error {
  if (err instanceof LifelineError) return err;
  if (err instanceof z.ZodError) return qdrantAnswerError(operation, err);
  return err instanceof Error ? err : new Error(String(err));
}
