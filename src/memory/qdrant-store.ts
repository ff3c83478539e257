import type { Schemas } from "@qdrant/js-client-rest";
import { z } from "zod";
import { MemoryMismatchError } from "../errors/memory-mismatch-error";
import { UpstreamError } from "../errors/upstream-error";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";
import { customerDirection, emptyCustomerVector, normalised } from "./customer-vector";
import { createCustomerSums, type CustomerSums, type CustomerSumsState } from "./customer-sums";
import {
  DEFAULT_HALF_LIFE_MS,
  memoryPayloadSchema,
  mismatchMessage,
  type CustomerHit,
  type CustomerSearch,
  type CustomerVectorOptions,
  type MemoryFilter,
  type MemoryHit,
  type MemoryMeta,
  type MemoryPoint,
  type MemorySearch,
  type MemoryStore,
  type SimilarCustomer,
} from "./memory-store";
import { uuidV5 } from "./point-id";
import { translateQdrantError } from "./qdrant-errors";
import { activeCustomers, customerFilter, eventFilter, insertOnly, olderVersionsOnly } from "./qdrant-filters";
import { QdrantRest } from "./qdrant-rest";
import { checkQdrantServer } from "./qdrant-version";
import { eventFingerprint, type CountedEvent, type SumChange } from "./sum-changes";

export type QdrantStoreOptions = CustomerVectorOptions & {
  url: string;
  apiKey?: string;
  /** Collections are `<prefix>_events` and `<prefix>_customers`. */
  prefix: string;
  modelId: string;
  dimensions: number;
  /** Where the customers' running sums live (see customer-sums.ts). */
  redis: RedisClient;
  keys: Keyspace;
  /** @defaultValue 10_000 */
  timeoutMs?: number;
};

const eventPayloadSchema = memoryPayloadSchema.extend({ customerId: z.string() });
const storedEventSchema = z.object({ customerId: z.string(), ts: z.number(), text: z.string() });
const metaPayloadSchema = z.object({ modelId: z.string(), dimensions: z.number() });

// The meta record is a reserved point of the customers collection.
const META_POINT_ID = uuidV5("lifeline:memory-meta");
export const customerPointId = (customerId: string) => uuidV5(`customer:${customerId}`);
// Conditional writes go through each shard's leader, so every replica applies them in one order.
const WRITE = { wait: true, ordering: "strong" } as const;
// The reads those writes are computed from see what a majority of replicas hold.
const READ = { consistency: "majority" } as const;
const PROJECTION_BATCH = 64;
const REASSIGN_PAGE = 256;

/**
 * Qdrant memory: events with `customerId` as a tenant index, and a customer point per customer
 * for similarity. Each customer's running sums live in Redis (customer-sums.ts), where a
 * compare-and-set and a ledger of counted events make every change exactly-once; the customer
 * point is their projection, written only over an older version. Needs Qdrant 1.16.0+.
 */
export class QdrantStore implements MemoryStore {
  readonly meta: MemoryMeta;
  private readonly client: QdrantRest;
  private readonly events: string;
  private readonly customers: string;
  private readonly sums: CustomerSums;

  constructor(options: QdrantStoreOptions) {
    this.meta = { modelId: options.modelId, dimensions: options.dimensions };
    this.client = new QdrantRest({ url: options.url, apiKey: options.apiKey, timeoutMs: options.timeoutMs ?? 10_000 });
    this.events = `${options.prefix}_events`;
    this.customers = `${options.prefix}_customers`;
    this.sums = createCustomerSums(options.redis, options.keys, {
      dimensions: options.dimensions,
      halfLifeMs: options.halfLifeMs ?? DEFAULT_HALF_LIFE_MS,
    });
  }

  async init(): Promise<void> {
    await checkQdrantServer(this.client);
    await this.ensureCollection(this.events);
    await this.ensureCollection(this.customers);
    const indexes: [string, string, Schemas["PayloadFieldSchema"]][] = [
      [this.events, "customerId", { type: "keyword", is_tenant: true }],
      [this.events, "type", "keyword"],
      [this.events, "stage", "keyword"],
      // ts is epoch ms but any finite number is valid: an integer index would skip fractions.
      [this.events, "ts", "float"],
      [this.customers, "version", "integer"],
      [this.customers, "weight", "float"],
    ];
    for (const [collection, field_name, field_schema] of indexes)
      await this.client.createPayloadIndex(collection, { field_name, field_schema, ...WRITE });
    await this.checkMeta();
  }

  /**
   * Sums first, then the events, then the projection: a retry after a failure at any step finds
   * the events it already counted in the ledger (so counts them once), and the copies stored
   * before this write still under their old customer (so moves them once).
   */
  async upsert(points: MemoryPoint[]): Promise<void> {
    const latest = [...new Map(points.map((p) => [p.id, p])).values()];
    if (latest.length === 0) return;
    for (const p of latest) this.checkDimensions(p.vector);
    const units = new Map(latest.map((p) => [p.id, normalised(p.vector)]));
    const stored = await this.storedEvents(latest.map((p) => p.id));
    const changes = new Map<string, SumChange[]>();
    const change = (customerId: string, c: SumChange) => changes.set(customerId, [...(changes.get(customerId) ?? []), c]);
    for (const p of latest) {
      const event = { pointId: p.id, vector: units.get(p.id)!, ts: p.payload.ts, fingerprint: eventFingerprint(p.payload.ts, p.payload.text) };
      const before = stored.get(p.id);
      if (before && before.customerId !== p.customerId) change(before.customerId, { op: "remove", event: before.event });
      change(p.customerId, { op: "add", event, previous: before?.customerId === p.customerId ? before.event : undefined });
    }
    const states = await this.applySums(changes);
    await this.client.upsert(this.events, {
      ...WRITE,
      points: latest.map((p) => ({ id: p.id, vector: Array.from(units.get(p.id)!), payload: { ...p.payload, customerId: p.customerId } })),
    });
    await this.project(states);
  }

  search(query: MemorySearch): Promise<MemoryHit[]> {
    return this.searchEvents(query.vector, query, query.limit, query.customerId);
  }

  async searchCustomers(query: CustomerSearch): Promise<CustomerHit[]> {
    this.checkDimensions(query.vector);
    return this.call("query groups", async () => {
      const result = await this.client.queryGroups(this.events, {
        query: Array.from(query.vector),
        filter: eventFilter(query),
        group_by: "customerId",
        group_size: query.perCustomer,
        limit: query.limit,
        with_payload: true,
      });
      return result.groups.map((g) => {
        const events = g.hits.map(toHit);
        return { customerId: String(g.id), score: events[0]?.score ?? 0, events };
      });
    });
  }

  async similarCustomers(customerId: string, k: number): Promise<SimilarCustomer[]> {
    const [self] = await this.client.retrieve(this.customers, { ids: [customerPointId(customerId)], with_vector: true, with_payload: ["weight"] });
    if (!self || !(Number(self.payload?.weight) > 0)) return [];
    return this.call("query", async () => {
      const result = await this.client.query(this.customers, {
        query: denseVector(self.vector),
        filter: activeCustomers(String(self.id)),
        limit: k,
        with_payload: ["customerId"],
      });
      return result.points.map((p) => ({ customerId: z.string().parse(p.payload?.customerId), score: p.score }));
    });
  }

  /**
   * Moves the visitor's events page by page: the sums first (added to `toId`, then removed from
   * `fromId`, both exactly-once), then the points, by id. Events that reach `fromId` meanwhile stay
   * under it until the next reassignment (the embed worker makes one after writing them).
   */
  async reassignCustomer(fromId: string, toId: string): Promise<void> {
    if (fromId === toId) return;
    const pages = Math.ceil((await this.count(fromId)) / REASSIGN_PAGE) + 1;
    for (let page = 0; page < pages; page++) {
      const moving = await this.call("scroll", async () => {
        const { points } = await this.client.scroll(this.events, {
          filter: customerFilter(fromId),
          limit: REASSIGN_PAGE,
          with_payload: ["customerId", "ts", "text"],
          with_vector: true,
          ...READ,
        });
        return points.map(storedEvent);
      });
      if (moving.length === 0) return;
      const added = await this.sums.apply(toId, moving.map(({ event }) => ({ op: "add", event })));
      const removed = await this.sums.apply(fromId, moving.map(({ event }) => ({ op: "remove", event })));
      await this.project(new Map(Object.entries({ [toId]: added, [fromId]: removed })));
      await this.client.setPayload(this.events, { payload: { customerId: toId }, points: moving.map((m) => m.event.pointId), ...WRITE });
    }
  }

  /**
   * Erasure: the events, the sums, and the customer point, replaced by a tombstone without
   * personal data whose version fences out a projection still in flight.
   */
  async deleteCustomer(customerId: string): Promise<number> {
    const removed = await this.count(customerId);
    await this.client.delete(this.events, { filter: customerFilter(customerId), ...WRITE });
    const fence = await this.sums.erase(customerId);
    await this.project(new Map([[customerId, { version: fence, cv: emptyCustomerVector(this.meta.dimensions, 0) }]]));
    return removed;
  }

  async count(customerId?: string): Promise<number> {
    const filter = customerId === undefined ? undefined : customerFilter(customerId);
    return (await this.client.count(this.events, { filter, exact: true })).count;
  }

  async close(): Promise<void> {
    // The REST layer holds no connection that needs closing; Redis belongs to the caller.
  }

  /** The sums the customer point of `customerId` projects (for inspection and tests). */
  customerSums(customerId: string): Promise<CustomerSumsState | undefined> {
    return this.sums.get(customerId);
  }

  /** The one way events are searched: the customer filter is injected here and nowhere else. */
  private async searchEvents(vector: Float32Array, filter: MemoryFilter, limit: number, customerId?: string): Promise<MemoryHit[]> {
    this.checkDimensions(vector);
    return this.call("query", async () => {
      const result = await this.client.query(this.events, { query: Array.from(vector), filter: eventFilter(filter, customerId), limit, with_payload: true });
      return result.points.map(toHit);
    });
  }

  /** The copies of these events stored now, with the customer they are under. */
  private async storedEvents(ids: string[]): Promise<Map<string, { customerId: string; event: CountedEvent }>> {
    return this.call("retrieve", async () => {
      const records = await this.client.retrieve(this.events, { ids, with_payload: ["customerId", "ts", "text"], with_vector: true, ...READ });
      return new Map(records.map((r) => [String(r.id), storedEvent(r)]));
    });
  }

  private async applySums(changes: Map<string, SumChange[]>): Promise<Map<string, CustomerSumsState | undefined>> {
    const entries = [...changes];
    const states = await Promise.all(entries.map(([customerId, c]) => this.sums.apply(customerId, c)));
    return new Map(entries.map(([customerId], i) => [customerId, states[i]]));
  }

  /**
   * Writes customer points from their sums, each only over an older stored version: a slow
   * writer's stale projection never replaces a newer one. A customer without events (emptied by
   * a reassignment, or erased) becomes a weightless point that similarity skips.
   */
  private async project(states: Map<string, CustomerSumsState | undefined>): Promise<void> {
    const points = [...states].flatMap(([customerId, state]) => (state ? [customerPoint(customerId, state, this.meta.dimensions)] : []));
    for (let i = 0; i < points.length; i += PROJECTION_BATCH) {
      const batch = points.slice(i, i + PROJECTION_BATCH);
      await this.client.upsert(this.customers, {
        ...WRITE,
        points: batch,
        update_filter: olderVersionsOnly(batch.map((p) => ({ id: p.id, version: p.payload.version }))),
      });
    }
  }

  private async ensureCollection(name: string): Promise<void> {
    if (!(await this.client.collectionExists(name)).exists) {
      try {
        await this.client.createCollection(name, { vectors: { size: this.meta.dimensions, distance: "Cosine" } });
      } catch (err) {
        // Another process may have created it between our check and create.
        if (!(await this.client.collectionExists(name)).exists) throw err;
      }
    }
    const info = await this.client.getCollection(name);
    const vectors = info.config.params.vectors;
    const size = vectors && "size" in vectors ? Number(vectors.size) : undefined;
    if (size !== this.meta.dimensions)
      throw new MemoryMismatchError(mismatchMessage({ modelId: "(see meta)", dimensions: size ?? NaN }, this.meta, `Qdrant collection ${name}`));
    const distance = vectors && "distance" in vectors ? String(vectors.distance) : "(none)";
    if (distance !== "Cosine")
      throw new MemoryMismatchError(
        `Qdrant collection ${name} measures ${distance} distance; Lifeline's memory is searched by cosine similarity. ` +
          "Point LIFELINE_KEY_PREFIX at new collections, or delete this one to let Lifeline create it",
        { details: { collection: name, distance } },
      );
  }

  /** The first process to write the meta record wins; every process then checks it against its model. */
  private async checkMeta(): Promise<void> {
    const read = async () => (await this.client.retrieve(this.customers, { ids: [META_POINT_ID], with_payload: true, ...READ }))[0];
    if (!(await read())) {
      // Qdrant refuses a zero vector under Cosine; the meta point is never searched anyway.
      await this.client.upsert(this.customers, {
        ...WRITE,
        points: [{ id: META_POINT_ID, vector: placeholderVector(this.meta.dimensions), payload: { ...this.meta } }],
        update_filter: insertOnly(META_POINT_ID),
      });
    }
    const stored = await this.call("retrieve", async () => metaPayloadSchema.parse((await read())?.payload));
    if (stored.modelId !== this.meta.modelId || stored.dimensions !== this.meta.dimensions)
      throw new MemoryMismatchError(mismatchMessage(stored, this.meta, `Qdrant ${this.customers}`), { details: { stored, wanted: this.meta } });
  }

  private checkDimensions(vector: Float32Array): void {
    if (vector.length !== this.meta.dimensions)
      throw new MemoryMismatchError(
        `a ${vector.length}-dimension vector was given to a memory of ${this.meta.dimensions} dimensions (${this.meta.modelId})`,
      );
  }

  /** Runs a step that reads Qdrant's answers: a zod failure on them is translated like any other. */
  private async call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      throw translateQdrantError(operation, err);
    }
  }
}

type CustomerPoint = { id: string; vector: number[]; payload: { version: number; weight: number; customerId?: string } };

function customerPoint(customerId: string, { version, cv }: CustomerSumsState, dimensions: number): CustomerPoint {
  const direction = customerDirection(cv);
  if (!direction) return { id: customerPointId(customerId), vector: placeholderVector(dimensions), payload: { version, weight: 0 } };
  return { id: customerPointId(customerId), vector: Array.from(direction), payload: { customerId, weight: cv.weight, version } };
}

function placeholderVector(dimensions: number): number[] {
  const v = new Array<number>(dimensions).fill(0);
  v[0] = 1;
  return v;
}

function storedEvent(record: Schemas["Record"]): { customerId: string; event: CountedEvent } {
  const { customerId, ts, text } = storedEventSchema.parse(record.payload);
  return { customerId, event: { pointId: String(record.id), vector: denseVector(record.vector), ts, fingerprint: eventFingerprint(ts, text) } };
}

function toHit(point: Schemas["ScoredPoint"]): MemoryHit {
  const { customerId, ...payload } = eventPayloadSchema.parse(point.payload);
  return { id: String(point.id), score: point.score, customerId, payload };
}

function denseVector(vector: Schemas["Record"]["vector"]): number[] {
  if (Array.isArray(vector) && vector.every((x): x is number => typeof x === "number")) return vector;
  throw new UpstreamError("qdrant returned a point without a dense vector");
}

export async function openQdrantStore(options: QdrantStoreOptions): Promise<QdrantStore> {
  const store = new QdrantStore(options);
  await store.init();
  return store;
}
