/**
 * A local server speaking the OpenAI HTTP API, for tests of anything built on the `openai`
 * package. Point the client at `url` (it already ends in /v1).
 *
 *   const fake = await startFakeOpenAI({ chatContent: JSON.stringify({ strategies: [] }) });
 *   fake.script("embeddings", [{ kind: "rate-limit", retryAfter: "1" }, { kind: "ok" }]);
 *   … new OpenAI({ baseURL: fake.url, apiKey: "test" }) …
 *   expect(fake.requests.filter((r) => r.route === "embeddings")).toHaveLength(2);
 *   fake.stop();
 *
 * Routes: "embeddings" (POST /v1/embeddings) and "chat" (POST /v1/chat/completions).
 * Each route has a queue of behaviours consumed one per request; when it is empty the route
 * answers with its standing behaviour: "ok", or what `setDefault` made it (an outage that lasts
 * until it is set back, e.g. `fake.setDefault("embeddings", { kind: "server-error" })`). Embeddings are deterministic in the input text (same text, same vector), with
 * the request's `dimensions` or the server's `embeddingDimensions`; `encoding_format: "base64"`
 * is honoured like OpenAI does. Chat answers `chatContent` (a string, or a function of the
 * request body, e.g. to echo a JSON document matching `response_format`).
 */

export type FakeRoute = "embeddings" | "chat";

export type FakeBehaviour =
  /** A normal answer, optionally late, or (chat) with content and `finish_reason` of its own (default "stop"). */
  | { kind: "ok"; delayMs?: number; content?: string; finishReason?: "stop" | "length" | "content_filter" }
  /** 429 with `Retry-After` (seconds or an HTTP date) when given. */
  | { kind: "rate-limit"; retryAfter?: string }
  /** A 5xx (default 500) with an OpenAI-style error body. */
  | { kind: "server-error"; status?: number }
  /** Any status with an OpenAI-style error body, e.g. 400 or 401. */
  | { kind: "status"; status: number; message?: string }
  /** Never answers; the request ends when the client gives up or the server stops. */
  | { kind: "hang" }
  /** 200 with a body that is not what the API returns (default: invalid JSON). */
  | { kind: "malformed"; body?: string; contentType?: string }
  /** 200 with embeddings of `dimensions` instead of the requested size. */
  | { kind: "wrong-dimension"; dimensions: number };

export type FakeRequest = { route: FakeRoute; body: unknown; headers: Record<string, string>; receivedAt: number };

export type FakeOpenAIOptions = {
  /** Used when a request does not ask for `dimensions`. @defaultValue 8 */
  embeddingDimensions?: number;
  /** @defaultValue "{}" */
  chatContent?: string | ((body: unknown) => string);
};

export type FakeOpenAI = {
  /** Base URL including /v1. */
  url: string;
  /** Every request received, in order (including those that hung). */
  requests: FakeRequest[];
  /** Appends behaviours to the route's queue. */
  script(route: FakeRoute, behaviours: FakeBehaviour[]): void;
  /** How the route answers whenever its queue is empty, from now on (undefined: "ok" again). */
  setDefault(route: FakeRoute, behaviour: FakeBehaviour | undefined): void;
  /** Requests to a route received at or after a time (ms since epoch). */
  requestsSince(route: FakeRoute, sinceMs: number): FakeRequest[];
  stop(): void;
};

const routeByPath: Record<string, FakeRoute> = { "/v1/embeddings": "embeddings", "/v1/chat/completions": "chat" };

export function startFakeOpenAI(opts: FakeOpenAIOptions = {}): FakeOpenAI {
  const queues: Record<FakeRoute, FakeBehaviour[]> = { embeddings: [], chat: [] };
  const standing: Partial<Record<FakeRoute, FakeBehaviour>> = {};
  const requests: FakeRequest[] = [];
  const hanging = new Set<() => void>();

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    async fetch(req) {
      const route = routeByPath[new URL(req.url).pathname];
      if (!route || req.method !== "POST") return errorResponse(404, "unknown route");
      const body: unknown = await req.json().catch(() => undefined);
      requests.push({ route, body, headers: Object.fromEntries(req.headers), receivedAt: Date.now() });
      const behaviour = queues[route].shift() ?? standing[route] ?? { kind: "ok" };
      if (behaviour.kind === "hang") return hang(req.signal, hanging);
      if (behaviour.kind === "ok" && behaviour.delayMs) await Bun.sleep(behaviour.delayMs);
      return respond(route, behaviour, body, opts);
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}/v1`,
    requests,
    script: (route, behaviours) => void queues[route].push(...behaviours),
    setDefault: (route, behaviour) => void (standing[route] = behaviour),
    requestsSince: (route, sinceMs) => requests.filter((r) => r.route === route && r.receivedAt >= sinceMs),
    stop: () => {
      for (const release of hanging) release();
      server.stop(true);
    },
  };
}

function respond(route: FakeRoute, b: Exclude<FakeBehaviour, { kind: "hang" }>, body: unknown, opts: FakeOpenAIOptions): Response {
  switch (b.kind) {
    case "rate-limit":
      return errorResponse(429, "rate limit reached", b.retryAfter === undefined ? {} : { "retry-after": b.retryAfter });
    case "server-error":
      return errorResponse(b.status ?? 500, "server error");
    case "status":
      return errorResponse(b.status, b.message ?? `status ${b.status}`);
    case "malformed":
      return new Response(b.body ?? '{"data": [', { headers: { "content-type": b.contentType ?? "application/json" } });
    case "wrong-dimension":
      return route === "embeddings" ? Response.json(embeddingsBody(body, b.dimensions)) : errorResponse(400, "wrong-dimension is for embeddings");
    case "ok":
      return Response.json(route === "embeddings" ? embeddingsBody(body, requestedDimensions(body) ?? opts.embeddingDimensions ?? 8) : chatBody(body, b, opts));
  }
}

function hang(signal: AbortSignal, hanging: Set<() => void>): Promise<Response> {
  return new Promise((resolve) => {
    const release = () => {
      hanging.delete(release);
      resolve(errorResponse(503, "fake server stopped"));
    };
    hanging.add(release);
    signal.addEventListener("abort", release);
  });
}

type EmbeddingsRequest = { input?: string | string[]; model?: string; dimensions?: number; encoding_format?: string };

const requestedDimensions = (body: unknown) => (body as EmbeddingsRequest | undefined)?.dimensions;

function embeddingsBody(body: unknown, dimensions: number) {
  const req = (body ?? {}) as EmbeddingsRequest;
  const inputs = typeof req.input === "string" ? [req.input] : (req.input ?? []);
  const isBase64 = req.encoding_format === "base64";
  return {
    object: "list",
    model: req.model ?? "fake-embedding",
    data: inputs.map((text, index) => {
      const v = textVector(text, dimensions);
      return { object: "embedding", index, embedding: isBase64 ? Buffer.from(v.buffer).toString("base64") : Array.from(v) };
    }),
    usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
  };
}

/** Deterministic pseudo-random vector seeded by the text (not normalised, like some servers). */
function textVector(text: string, dimensions: number): Float32Array {
  let seed = 2166136261;
  for (let i = 0; i < text.length; i++) seed = Math.imul(seed ^ text.charCodeAt(i), 16777619);
  const v = new Float32Array(dimensions);
  for (let d = 0; d < dimensions; d++) {
    seed = Math.imul(seed ^ (seed >>> 15), 2246822507) + d;
    v[d] = ((seed >>> 0) / 2 ** 32) * 2 - 1;
  }
  return v;
}

function chatBody(body: unknown, { content, finishReason }: Extract<FakeBehaviour, { kind: "ok" }>, opts: FakeOpenAIOptions) {
  const configured = opts.chatContent ?? "{}";
  return {
    id: `chatcmpl-fake-${crypto.randomUUID()}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: (body as { model?: string } | undefined)?.model ?? "fake-chat",
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: content ?? (typeof configured === "function" ? configured(body) : configured), refusal: null },
        finish_reason: finishReason ?? "stop",
        logprobs: null,
      },
    ],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  };
}

function errorResponse(status: number, message: string, headers: Record<string, string> = {}): Response {
  return Response.json({ error: { message, type: "fake_error", code: null, param: null } }, { status, headers });
}
