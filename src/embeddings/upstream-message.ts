/**
 * What an upstream said, for error messages and /ready: the `error.message` of an OpenAI-style
 * error body when there is one, else the error's own message; one line, at most 300 characters.
 */
export function upstreamMessage(err: unknown): string {
  const body = (err as { error?: { message?: unknown } } | undefined)?.error;
  const text = typeof body?.message === "string" ? body.message : err instanceof Error ? err.message : String(err);
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
}
