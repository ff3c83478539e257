/**
 * A loopback server that answers as Qdrant's REST schema documents, for tests of how Lifeline
 * reads Qdrant's answers (error translation, the version check), never of Qdrant itself:
 *
 *   const fake = startFakeQdrant({ version: "1.13.4" });
 *   fake.script([qdrantAnswers.notFound("lifeline_events")]);   // the next request gets it
 *   … new QdrantRest({ url: fake.url, timeoutMs: 1_000 }) …
 *   fake.stop();
 *
 * GET / answers `{title, version, commit}`. Other requests take the next scripted answer, or a
 * plain success (`{"result": …, "status": "ok", "time": …}`) when the script is empty.
 */

export type FakeAnswer = { status: number; body?: unknown; headers?: Record<string, string>; delayMs?: number };
export type FakeQdrantRequest = { method: string; path: string; query: string; body: unknown };

export type FakeQdrant = {
  url: string;
  requests: FakeQdrantRequest[];
  script(answers: FakeAnswer[]): void;
  stop(): void;
};

const envelope = (result: unknown) => ({ result, status: "ok", time: 0.0001 });
const failure = (error: string) => ({ status: { error }, time: 0.0001 });

/** Answers as Qdrant gives them (src/actix/helpers.rs, lib/storage/src/content_manager/errors.rs). */
export const qdrantAnswers = {
  ok: (result: unknown): FakeAnswer => ({ status: 200, body: envelope(result) }),
  notFound: (collection: string): FakeAnswer => ({ status: 404, body: failure(`Not found: Collection \`${collection}\` doesn't exist!`) }),
  strictMode: (key: string): FakeAnswer => ({
    status: 400,
    body: failure(
      `Bad request: Index required but not found for "${key}" of one of the following types: [keyword]. Help: Create an index for this key or use a different filter.`,
    ),
  }),
  rateLimited: (retryAfter: string): FakeAnswer => ({
    status: 429,
    headers: { "retry-after": retryAfter },
    body: failure("Rate limiting exceeded: Write rate limit exceeded: Operation requires 1 tokens but only 0.0 were available."),
  }),
  serviceError: (): FakeAnswer => ({ status: 500, body: failure("Service internal error: No appendable segments exist, expected at least one") }),
  unavailable: (): FakeAnswer => ({ status: 503, body: failure("Shard temporarily unavailable: shard 0 of lifeline_events is being transferred") }),
};

export function startFakeQdrant(opts: { version?: string } = {}): FakeQdrant {
  const queue: FakeAnswer[] = [];
  const requests: FakeQdrantRequest[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const body: unknown = req.method === "GET" ? undefined : await req.json().catch(() => undefined);
      requests.push({ method: req.method, path: url.pathname, query: url.search, body });
      if (req.method === "GET" && url.pathname === "/")
        return Response.json({ title: "qdrant - vector search engine", version: opts.version ?? "1.18.2", commit: "0000000" });
      const answer = queue.shift() ?? qdrantAnswers.ok({ operation_id: 1, status: "completed" });
      if (answer.delayMs) await Bun.sleep(answer.delayMs);
      return new Response(typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body ?? null), {
        status: answer.status,
        headers: { "content-type": "application/json", ...answer.headers },
      });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    script: (answers) => void queue.push(...answers),
    stop: () => void server.stop(true),
  };
}
