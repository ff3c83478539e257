import { Elysia } from "elysia";
import { z } from "zod";
import { eventTypes } from "../../../pipelines/segment";
import { InvalidRequestError } from "../../errors";
import { searchModes, type SearchMode } from "../../memory/keyword-score";
import { lifecycleStageSchema, type MemoryEvent, type MemoryFilter, type MemoryHit } from "../../memory/memory-store";
import { authorize } from "../auth";
import type { AppDeps } from "../deps";
import { knownCustomer } from "../known-customer";

/** "a,b" → ["a", "b"], each checked by `item`. */
const listParam = <T extends z.ZodType<string, string>>(item: T) =>
  z
    .string()
    .transform((raw) => raw.split(",").map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(item).min(1, "give at least one value"));

/** ISO 8601 time or epoch milliseconds → epoch ms. */
const timeParam = z.string().transform((raw, ctx) => {
  const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (Number.isFinite(ms)) return ms;
  ctx.addIssue({ code: "custom", message: "expected an ISO 8601 time (2024-03-01T10:00:00Z) or epoch milliseconds" });
  return z.NEVER;
});

const intParam = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

const filterShape = {
  stage: listParam(lifecycleStageSchema).optional(),
  type: listParam(z.enum(eventTypes)).optional(),
  since: timeParam.optional(),
  until: timeParam.optional(),
};
const sinceBeforeUntil = <T extends { since?: number; until?: number }>(q: T) => q.since === undefined || q.until === undefined || q.since < q.until;
const rangeError = { path: ["until"], message: "must be later than since" };
const queryText = z.string().trim().min(1, "a query text is required").max(1_000);
/** vector: by meaning; keyword: BM25 over stemmed words; hybrid (default): 0.7 × cosine + 0.3 × squashed BM25. */
const modeParam = z.enum(searchModes);
const DEFAULT_MODE: SearchMode = "hybrid";

/** Without `q`, the customer's events newest first (a stage's events, a time window…). */
export const customerMemoryQuerySchema = z
  .strictObject({ q: queryText.optional(), mode: modeParam.optional(), limit: intParam(1, 100, 10), ...filterShape })
  .refine(sinceBeforeUntil, rangeError)
  .refine((q) => q.q !== undefined || q.mode === undefined, { path: ["mode"], message: "a mode needs a query text q" });
export const memorySearchQuerySchema = z
  .strictObject({ q: queryText, mode: modeParam.default(DEFAULT_MODE), limit: intParam(1, 100, 10), perCustomer: intParam(1, 20, 3), ...filterShape })
  .refine(sinceBeforeUntil, rangeError);
export const similarQuerySchema = z.strictObject({ k: intParam(1, 100, 10) });

/** Query parameters checked by `schema`; a bad one is a 400 naming the parameter and the reason. */
function parseQuery<S extends z.ZodType>(schema: S, request: Request): z.infer<S> {
  const result = schema.safeParse(Object.fromEntries(new URL(request.url).searchParams));
  if (result.success) return result.data;
  const errors = result.error.issues.map((i) => ({
    // Query parameters are flat: name the parameter, not the list item inside it.
    field: i.path.length ? String(i.path[0]) : i.code === "unrecognized_keys" ? i.keys.join(",") : "",
    reason: i.message,
  }));
  throw new InvalidRequestError(`bad query parameter ${errors[0]!.field}: ${errors[0]!.reason}`, { details: { field: errors[0]!.field, errors } });
}

const toFilter = (q: { stage?: MemoryFilter["stages"]; type?: string[]; since?: number; until?: number }): MemoryFilter => ({
  stages: q.stage,
  types: q.type,
  since: q.since,
  until: q.until,
});

const eventView = (hit: MemoryHit | MemoryEvent) => ({
  ...("score" in hit ? { score: hit.score } : {}),
  time: new Date(hit.payload.ts).toISOString(),
  type: hit.payload.type,
  event: hit.payload.event,
  stage: hit.payload.stage,
  text: hit.payload.text,
  messageId: hit.payload.messageId,
});

export function memoryRoutes(deps: AppDeps) {
  /** The store and the query as it searches it; keyword search needs no embedding. */
  const embedQuery = async (text: string, mode: SearchMode) => {
    const semantic = await deps.semantic.open();
    const vector = mode === "keyword" ? undefined : (await semantic.embedder.embed([text]))[0]!;
    return { store: semantic.store, query: { vector, text, mode } };
  };

  return new Elysia({ name: "memory" })
    .get(
      "/clients/:id/memory",
      async ({ params, request }) => {
        authorize(deps.keyRing, request.headers, "read");
        const q = parseQuery(customerMemoryQuerySchema, request);
        const { customerId } = await knownCustomer(deps, params.id);
        if (q.q === undefined) {
          const { store } = await deps.semantic.open();
          const events = await store.list({ customerId, limit: q.limit, ...toFilter(q) });
          return { customerId, order: "newest first", events: events.map(eventView) };
        }
        const mode = q.mode ?? DEFAULT_MODE;
        const { store, query } = await embedQuery(q.q, mode);
        const hits = await store.search({ ...query, customerId, limit: q.limit, ...toFilter(q) });
        return { customerId, query: q.q, mode, events: hits.map(eventView) };
      },
      {
        detail: {
          summary: "A customer's own events ranked for a query (mode: hybrid, vector or keyword), or newest first without q",
          tags: ["memory"],
        },
      },
    )
    .get(
      "/memory/search",
      async ({ request }) => {
        authorize(deps.keyRing, request.headers, "read");
        const q = parseQuery(memorySearchQuerySchema, request);
        const { store, query } = await embedQuery(q.q, q.mode);
        const hits = await store.searchCustomers({ ...query, limit: q.limit, perCustomer: q.perCustomer, ...toFilter(q) });
        return { query: q.q, mode: q.mode, customers: hits.map((h) => ({ customerId: h.customerId, score: h.score, events: h.events.map(eventView) })) };
      },
      { detail: { summary: "Customers whose history best matches a query, with their matching events", tags: ["memory"] } },
    )
    .get(
      "/clients/:id/similar",
      async ({ params, request }) => {
        authorize(deps.keyRing, request.headers, "read");
        const q = parseQuery(similarQuerySchema, request);
        const { customerId } = await knownCustomer(deps, params.id);
        const { store } = await deps.semantic.open();
        return { customerId, similar: await store.similarCustomers(customerId, q.k) };
      },
      { detail: { summary: "Nearest customers by recency-weighted behaviour vector", tags: ["memory"] } },
    );
}
