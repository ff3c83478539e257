/**
 * Milliseconds to wait before retry number `attempt` (0 = first retry): exponential with "equal
 * jitter", so concurrent clients spread out but each still waits at least half the step.
 */
export function backoffDelayMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const step = Math.min(maxMs, baseMs * 2 ** attempt);
  return step / 2 + random() * (step / 2);
}

/**
 * Parses `Retry-After` (delta-seconds or an HTTP date) or OpenAI's `retry-after-ms`;
 * undefined when absent or unreadable. A date in the past means "now" (0).
 */
export function retryAfterMs(headers: { get(name: string): string | null } | undefined, nowMs = Date.now()): number | undefined {
  const ms = headers?.get("retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const value = headers?.get("retry-after")?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
