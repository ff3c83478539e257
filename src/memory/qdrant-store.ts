import {
  QdrantClient,
  QdrantClientResourceExhaustedError,
  QdrantClientTimeoutError,
  QdrantClientUnexpectedResponseError,
  type Schemas,
} from "@qdrant/js-client-rest";
import { z } from "zod";
import { MemoryMismatchError } from "../errors/memory-mismatch-error";
import { StoreUnavailableError } from "../errors/store-unavailable-error";
import { UpstreamError } from "../errors/upstream-error";
import { UpstreamTimeoutError } from "../errors/upstream-timeout-error";
import { applyEvent, customerDirection, emptyCustomerVector, mergeCustomerVector, normalised, type CustomerVector } from "./customer-vector";
import {
  DEFAULT_HALF_LIFE_MS,
  memoryPayloadSchema,
  mismatchMessage,
  type CustomerHit,
  type CustomerSearch,
  type CustomerVectorOptions,
  type MemoryFilter,
  type MemoryEvent,
  type MemoryHit,
  type MemoryList,
  type MemoryMeta,
  type MemoryPoint,
  type MemorySearch,
  type MemoryStore,
  type SimilarCustomer,
} from "./memory-store";
import { bm25, combinedScore, keywordTerms, localCorpusStats, type SearchMode } from "./keyword-score";
import { uuidV5 } from "./point-id";

export type QdrantStoreOptions = CustomerVectorOptions & {
  url: string;
  apiKey?: string;
  /** Collections are `<prefix>_events` and `<prefix>_customers`. */
  prefix: string;
  modelId: string;
  dimensions: number;
  /** @defaultValue 10_000 */
  timeoutMs?: number;
};

const eventPayloadSchema = memoryPayloadSchema.extend({ customerId: z.string() });
const customerPayloadSchema = z.object({
  customerId: z.string(),
  weight: z.number(),
  refTs: z.number(),
  sum: z.array(z.number()),
  /** Bumped by every write: the compare-and-set token of concurrent workers. */
  version: z.number().default(0),
  writer: z.string().optional(),
});
const metaPayloadSchema = z.object({ modelId: z.string(), dimensions: z.number() });

// The meta record is a reserved point of the customers collection.
const META_POINT_ID = uuidV5("lifeline:memory-meta");
const customerPointId = (customerId: string) => uuidV5(`customer:${customerId}`);
// Workers racing on one customer vector retry their read-modify-write this often.
const CAS_ATTEMPTS = 8;

type StoredCustomerVector = { cv: CustomerVector; version: number | undefined; writer?: string };

/** Qdrant memory: events with `customerId` as a tenant index, customer vectors beside them. */
export class QdrantStore implements MemoryStore {
  readonly meta: MemoryMeta;
  private readonly client: QdrantClient;
  private readonly events: string;
  private readonly customers: string;
  private readonly halfLifeMs: number;

  constructor(private readonly options: QdrantStoreOptions) {
    this.meta = { modelId: options.modelId, dimensions: options.dimensions };
    this.client = new QdrantClient({ url: options.url, apiKey: options.apiKey, timeout: options.timeoutMs ?? 10_000, checkCompatibility: false });
    this.events = `${options.prefix}_events`;
    this.customers = `${options.prefix}_customers`;
    this.halfLifeMs = options.halfLifeMs ?? DEFAULT_HALF_LIFE_MS;
  }

  async init(): Promise<void> {
    await this.ensureCollection(this.events);
    await this.ensureCollection(this.customers);
    const indexes: [string, Schemas["PayloadFieldSchema"]][] = [
      ["customerId", { type: "keyword", is_tenant: true }],
      ["type", "keyword"],
      ["stage", "keyword"],
      // ts is epoch ms but any finite number is valid: an integer index would skip fractions.
      ["ts", "float"],
      // Keyword and hybrid search find candidates by word (Qdrant ≥ 1.x full-text index; no stemming before 1.15).
      ["text", { type: "text", tokenizer: "word", lowercase: true }],
    ];
    for (const [field_name, field_schema] of indexes)
      await this.call("create payload index", () => this.client.createPayloadIndex(this.events, { field_name, field_schema, wait: true }));
    for (const [field_name, field_schema] of [["customerId", "keyword"], ["version", "integer"]] as const)
      await this.call("create payload index", () => this.client.createPayloadIndex(this.customers, { field_name, field_schema, wait: true }));
    await this.checkMeta();
  }

  async upsert(points: MemoryPoint[]): Promise<void> {
    const latest = [...new Map(points.map((p) => [p.id, p])).values()];
    if (latest.length === 0) return;
    for (const p of latest) this.checkDimensions(p.vector);
    const previous = await this.call("retrieve", () =>
      this.client.retrieve(this.events, { ids: latest.map((p) => p.id), with_payload: ["customerId", "ts"], with_vector: true }),
    );
    await this.call("upsert", () =>
      this.client.upsert(this.events, {
        wait: true,
        points: latest.map((p) => ({ id: p.id, vector: Array.from(normalised(p.vector)), payload: { ...p.payload, customerId: p.customerId } })),
      }),
    );
    const changes = [
      ...previous.map((r) => ({ customerId: String(r.payload?.customerId), vector: denseVector(r.vector), ts: Number(r.payload?.ts), sign: -1 as const })),
      ...latest.map((p) => ({ customerId: p.customerId, vector: normalised(p.vector), ts: p.payload.ts, sign: 1 as const })),
    ];
    await this.updateCustomerVectors([...new Set(changes.map((c) => c.customerId))], (vectors) => {
      for (const c of changes) applyEvent(vectors.get(c.customerId)!, c.vector, c.ts, this.halfLifeMs, c.sign);
    });
  }

  async search(query: MemorySearch): Promise<MemoryHit[]> {
    const mode = query.mode ?? "vector";
    if (mode === "vector") return this.searchEvents(requireVector(query.vector, mode), query, query.limit, query.customerId);
    return this.searchWithKeywords(query, mode);
  }

  async list(query: MemoryList): Promise<MemoryEvent[]> {
    const result = await this.call("scroll", () =>
      this.client.scroll(this.events, {
        filter: eventFilter(query, query.customerId),
        limit: query.limit,
        with_payload: true,
        order_by: { key: "ts", direction: "desc" },
      }),
    );
    return result.points.map((p) => {
      const { customerId, ...payload } = eventPayloadSchema.parse(p.payload);
      return { id: String(p.id), customerId, payload };
    });
  }

  /**
   * Keyword and hybrid search, scored here with BM25 over the candidates (their own corpus
   * statistics): a customer's newest points, or, globally, the points sharing a word with the
   * query plus (hybrid) the vector search's best.
   */
  private async searchWithKeywords(query: MemorySearch, mode: "keyword" | "hybrid"): Promise<MemoryHit[]> {
    const words = [...new Set((query.text ?? "").toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])];
    const vector = mode === "hybrid" ? normalised(requireVector(query.vector, mode)) : undefined;
    const wanted = Math.min(KEYWORD_CANDIDATES, Math.max(query.limit * 10, 200));
    const filter = eventFilter(query, query.customerId);
    const byWord: Schemas["Filter"] = { ...filter, should: words.map((w) => ({ key: "text", match: { text: w } })) };
    const scrolled = query.customerId !== undefined || words.length > 0
      ? (await this.call("scroll", () =>
          this.client.scroll(this.events, { filter: query.customerId !== undefined ? filter : byWord, limit: wanted, with_payload: true, with_vector: mode === "hybrid" })
        )).points
      : [];
    const nearest = vector && query.customerId === undefined
      ? (await this.call("query", () =>
          this.client.query(this.events, { query: Array.from(vector), filter, limit: wanted, with_payload: true, with_vector: true })
        )).points
      : [];
    const candidates = [...new Map([...scrolled, ...nearest].map((p) => [String(p.id), p])).values()];
    const docs = candidates.map((p) => keywordTerms(String(p.payload?.text ?? "")));
    const stats = localCorpusStats(docs);
    const queryTerms = keywordTerms(query.text ?? "");
    const scored = candidates.flatMap((p, i) => {
      const keyword = bm25(queryTerms, docs[i]!, stats);
      if (mode === "keyword" && keyword <= 0) return [];
      const cosine = vector ? dotProduct(normalised(Float32Array.from(denseVector(p.vector))), vector) : 0;
      const { customerId, ...payload } = eventPayloadSchema.parse(p.payload);
      return [{ id: String(p.id), customerId, payload, score: combinedScore(mode, cosine, keyword) }];
    });
    return scored.sort((a, b) => b.score - a.score).slice(0, query.limit);
  }

  async searchCustomers(query: CustomerSearch): Promise<CustomerHit[]> {
    const mode = query.mode ?? "vector";
    if (mode !== "vector") return this.searchCustomersWithKeywords(query, mode);
    const vector = requireVector(query.vector, mode);
    this.checkDimensions(vector);
    const result = await this.call("query groups", () =>
      this.client.queryGroups(this.events, {
        query: Array.from(vector),
        filter: eventFilter(query),
        group_by: "customerId",
        group_size: query.perCustomer,
        limit: query.limit,
        with_payload: true,
      }),
    );
    return result.groups.map((g) => {
      const events = g.hits.map(toHit);
      return { customerId: String(g.id), score: events[0]?.score ?? 0, events };
    });
  }

  /** Customers ranked by their best keyword/hybrid event among the global candidates, with their own best events. */
  private async searchCustomersWithKeywords(query: CustomerSearch, mode: "keyword" | "hybrid"): Promise<CustomerHit[]> {
    const hits = await this.searchWithKeywords({ ...query, mode, limit: Math.min(KEYWORD_CANDIDATES, query.limit * query.perCustomer * 4) }, mode);
    const best = new Map<string, number>();
    for (const h of hits) if (!best.has(h.customerId)) best.set(h.customerId, h.score);
    const top = [...best].slice(0, query.limit);
    return Promise.all(
      top.map(async ([customerId, score]) => ({
        customerId,
        score,
        events: await this.searchWithKeywords({ ...query, mode, customerId, limit: query.perCustomer }, mode),
      })),
    );
  }

  async similarCustomers(customerId: string, k: number): Promise<SimilarCustomer[]> {
    const [self] = await this.call("retrieve", () =>
      this.client.retrieve(this.customers, { ids: [customerPointId(customerId)], with_vector: true, with_payload: false }),
    );
    if (!self) return [];
    const result = await this.call("query", () =>
      this.client.query(this.customers, {
        query: denseVector(self.vector),
        filter: { must_not: [{ has_id: [self.id, META_POINT_ID] }] },
        limit: k,
        with_payload: ["customerId"],
      }),
    );
    return result.points.map((p) => ({ customerId: String(p.payload?.customerId), score: p.score }));
  }

  async reassignCustomer(fromId: string, toId: string): Promise<void> {
    if (fromId === toId) return;
    await this.call("set payload", () =>
      this.client.setPayload(this.events, { payload: { customerId: toId }, filter: customerFilter(fromId), wait: true }),
    );
    await this.updateCustomerVectors([fromId, toId], (vectors) => {
      mergeCustomerVector(vectors.get(toId)!, vectors.get(fromId)!, this.halfLifeMs);
      vectors.get(fromId)!.weight = 0;
    });
  }

  async deleteCustomer(customerId: string): Promise<number> {
    const removed = await this.count(customerId);
    await this.call("delete", () => this.client.delete(this.events, { filter: customerFilter(customerId), wait: true }));
    await this.call("delete", () => this.client.delete(this.customers, { points: [customerPointId(customerId)], wait: true }));
    return removed;
  }

  async count(customerId?: string): Promise<number> {
    const filter = customerId === undefined ? undefined : customerFilter(customerId);
    return (await this.call("count", () => this.client.count(this.events, { filter, exact: true }))).count;
  }

  async close(): Promise<void> {
    // The REST client holds no connection that needs closing.
  }

  /** The one way events are searched: the customer filter is injected here and nowhere else. */
  private async searchEvents(vector: Float32Array, filter: MemoryFilter, limit: number, customerId?: string): Promise<MemoryHit[]> {
    this.checkDimensions(vector);
    const result = await this.call("query", () =>
      this.client.query(this.events, { query: Array.from(vector), filter: eventFilter(filter, customerId), limit, with_payload: true }),
    );
    return result.points.map(toHit);
  }

  private async ensureCollection(name: string): Promise<void> {
    const { exists } = await this.call("collection exists", () => this.client.collectionExists(name));
    if (!exists) {
      try {
        await this.client.createCollection(name, { vectors: { size: this.meta.dimensions, distance: "Cosine" } });
      } catch (err) {
        // Another process may have created it between our check and create.
        if (!(await this.call("collection exists", () => this.client.collectionExists(name))).exists) throw translate(err, "create collection");
      }
    }
    const info = await this.call("get collection", () => this.client.getCollection(name));
    const vectors = info.config.params.vectors;
    const size = vectors && "size" in vectors ? Number(vectors.size) : undefined;
    if (size !== this.meta.dimensions)
      throw new MemoryMismatchError(
        mismatchMessage({ modelId: "(see meta)", dimensions: size ?? NaN }, this.meta, `Qdrant collection ${name}`),
      );
  }

  private async checkMeta(): Promise<void> {
    const [record] = await this.call("retrieve", () => this.client.retrieve(this.customers, { ids: [META_POINT_ID], with_payload: true }));
    const stored = record && metaPayloadSchema.safeParse(record.payload);
    if (stored?.success) {
      if (stored.data.modelId !== this.meta.modelId || stored.data.dimensions !== this.meta.dimensions)
        throw new MemoryMismatchError(mismatchMessage(stored.data, this.meta, `Qdrant ${this.customers}`), {
          details: { stored: stored.data, wanted: this.meta },
        });
      return;
    }
    // Qdrant refuses a zero vector under Cosine; the meta point is never searched anyway.
    const placeholder = new Array<number>(this.meta.dimensions).fill(0);
    placeholder[0] = 1;
    await this.call("upsert", () =>
      this.client.upsert(this.customers, { wait: true, points: [{ id: META_POINT_ID, vector: placeholder, payload: { ...this.meta } }] }),
    );
  }

  /**
   * Read-modify-write of customer vectors that is safe against other workers: each write is
   * conditional on the version it read (Qdrant `update_filter`, `insert_only` for new
   * customers) and carries a writer token; customers whose write lost are re-read and the
   * change applied again. The same event delivered to two workers at the same instant can
   * still count twice in the customer vector (never in the events), until its next upsert.
   */
  private async updateCustomerVectors(customerIds: string[], change: (vectors: Map<string, CustomerVector>) => void): Promise<void> {
    let pending = new Set(customerIds);
    for (let attempt = 0; attempt < CAS_ATTEMPTS && pending.size > 0; attempt++) {
      // The change is re-applied to a fresh read of every customer it touches; only the
      // customers whose write lost are written again.
      const stored = await this.customerVectors(customerIds);
      change(new Map([...stored].map(([id, s]) => [id, s.cv])));
      const writer = crypto.randomUUID();
      const toWrite = new Map([...stored].filter(([id]) => pending.has(id)));
      await this.writeCustomerVectors(toWrite, writer);
      const written = await this.customerVectors([...pending]);
      pending = new Set(
        [...pending].filter((id) => {
          const after = written.get(id)!;
          const emptied = customerDirection(toWrite.get(id)!.cv) === undefined;
          return emptied ? after.version !== undefined : after.writer !== writer;
        }),
      );
    }
    if (pending.size > 0) throw new UpstreamError(`qdrant: customer vectors of ${[...pending].join(", ")} kept changing under us; retry`);
  }

  private async customerVectors(customerIds: string[]): Promise<Map<string, StoredCustomerVector>> {
    const records = await this.call("retrieve", () =>
      this.client.retrieve(this.customers, { ids: customerIds.map(customerPointId), with_payload: true }),
    );
    const stored = new Map<string, StoredCustomerVector>();
    for (const r of records) {
      const p = customerPayloadSchema.parse(r.payload);
      stored.set(p.customerId, { cv: { sum: Float64Array.from(p.sum), weight: p.weight, refTs: p.refTs }, version: p.version, writer: p.writer });
    }
    return new Map(
      customerIds.map((id) => [id, stored.get(id) ?? { cv: emptyCustomerVector(this.meta.dimensions, 0), version: undefined }]),
    );
  }

  private async writeCustomerVectors(vectors: Map<string, StoredCustomerVector>, writer: string): Promise<void> {
    for (const [customerId, { cv, version }] of vectors) {
      const id = customerPointId(customerId);
      const direction = customerDirection(cv);
      if (!direction) {
        // Emptied: delete only the version we read, so a concurrent add is not thrown away.
        const filter: Schemas["Filter"] = { must: [{ has_id: [id] }, ...versionCondition(version)] };
        await this.call("delete", () => this.client.delete(this.customers, { wait: true, filter }));
        continue;
      }
      const point = {
        id,
        vector: Array.from(direction),
        payload: { customerId, weight: cv.weight, refTs: cv.refTs, sum: Array.from(cv.sum), version: (version ?? 0) + 1, writer },
      };
      await this.call("upsert", () =>
        this.client.upsert(
          this.customers,
          version === undefined
            ? { wait: true, points: [point], update_mode: "insert_only" }
            : { wait: true, points: [point], update_filter: { must: versionCondition(version) } },
        ),
      );
    }
  }

  private checkDimensions(vector: Float32Array): void {
    if (vector.length !== this.meta.dimensions)
      throw new MemoryMismatchError(
        `a ${vector.length}-dimension vector was given to a memory of ${this.meta.dimensions} dimensions (${this.meta.modelId})`,
      );
  }

  private async call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw translate(err, operation);
    }
  }
}

const KEYWORD_CANDIDATES = 2000;

function requireVector(vector: Float32Array | undefined, mode: SearchMode): Float32Array {
  if (!vector) throw new Error(`a ${mode} search needs a query vector`);
  return vector;
}

function dotProduct(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function versionCondition(version: number | undefined): Schemas["Condition"][] {
  return version === undefined ? [] : [{ key: "version", match: { value: version } }];
}

function customerFilter(customerId: string): Schemas["Filter"] {
  return { must: [{ key: "customerId", match: { value: customerId } }] };
}

function eventFilter(filter: MemoryFilter, customerId?: string): Schemas["Filter"] {
  const must: Schemas["Condition"][] = [];
  if (customerId !== undefined) must.push({ key: "customerId", match: { value: customerId } });
  if (filter.types) must.push({ key: "type", match: { any: filter.types } });
  if (filter.stages) must.push({ key: "stage", match: { any: filter.stages } });
  if (filter.since !== undefined || filter.until !== undefined) must.push({ key: "ts", range: { gte: filter.since, lt: filter.until } });
  return { must };
}

function toHit(point: Schemas["ScoredPoint"]): MemoryHit {
  const { customerId, ...payload } = eventPayloadSchema.parse(point.payload);
  return { id: String(point.id), score: point.score, customerId, payload };
}

function denseVector(vector: Schemas["Record"]["vector"]): number[] {
  if (Array.isArray(vector) && vector.every((x): x is number => typeof x === "number")) return vector;
  throw new UpstreamError("qdrant returned a point without a dense vector");
}

function translate(err: unknown, operation: string): Error {
  if (err instanceof MemoryMismatchError || err instanceof UpstreamError) return err;
  const what = `qdrant ${operation}`;
  if (err instanceof QdrantClientTimeoutError) return new UpstreamTimeoutError(`${what} timed out`, { cause: err });
  if (err instanceof QdrantClientResourceExhaustedError)
    return new UpstreamError(`${what}: rate limited`, { cause: err, retryAfterSeconds: err.retry_after });
  if (err instanceof QdrantClientUnexpectedResponseError) return new UpstreamError(`${what} failed: ${err.message}`, { cause: err });
  // fetch rejects with a TypeError when the server cannot be reached at all.
  return new StoreUnavailableError(`${what}: Qdrant is unreachable (${err instanceof Error ? err.message : String(err)})`, { cause: err });
}

export async function openQdrantStore(options: QdrantStoreOptions): Promise<QdrantStore> {
  const store = new QdrantStore(options);
  await store.init();
  return store;
}
