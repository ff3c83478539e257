import { z } from "zod";
import { searchModes } from "./keyword-score";

export const lifecycleStages = ["pre_conversion", "conversion", "post_conversion", "churn_signal"] as const;
export const lifecycleStageSchema = z.enum(lifecycleStages);
export type MemoryStage = z.infer<typeof lifecycleStageSchema>;

const float32ArraySchema = z.custom<Float32Array>((v) => v instanceof Float32Array, "expected a Float32Array");

export const memoryPayloadSchema = z.object({
  messageId: z.string().min(1),
  /** Segment call type: track, identify, page, screen, group, alias. */
  type: z.string().min(1),
  /** Event name, e.g. "Order Completed". */
  event: z.string(),
  stage: lifecycleStageSchema,
  /** Event time, epoch ms. */
  ts: z.number().finite(),
  /** The rendered text that was embedded. */
  text: z.string(),
});
export type MemoryPayload = z.infer<typeof memoryPayloadSchema>;

export const memoryPointSchema = z.object({
  id: z.uuid(),
  customerId: z.string().min(1),
  vector: float32ArraySchema,
  payload: memoryPayloadSchema,
});
export type MemoryPoint = z.infer<typeof memoryPointSchema>;

/** Filters shared by every kind of search. `since` is inclusive, `until` exclusive (epoch ms). */
export const memoryFilterSchema = z.object({
  types: z.array(z.string()).optional(),
  stages: z.array(lifecycleStageSchema).optional(),
  since: z.number().finite().optional(),
  until: z.number().finite().optional(),
});
export type MemoryFilter = z.infer<typeof memoryFilterSchema>;

/**
 * How a query is scored: `vector` by cosine similarity of `vector`, `keyword` by BM25 of the
 * stemmed words of `text`, `hybrid` by their mix (keyword-score.ts). `vector` is required
 * unless the mode is `keyword`, `text` unless it is `vector`.
 */
const queryShape = {
  vector: float32ArraySchema.optional(),
  text: z.string().optional(),
  mode: z.enum(searchModes).optional(),
};

export const memorySearchSchema = memoryFilterSchema.extend({
  ...queryShape,
  /** When set, only this customer's events are searched (exact scan). */
  customerId: z.string().min(1).optional(),
  limit: z.number().int().positive().max(1000),
});
export type MemorySearch = z.infer<typeof memorySearchSchema>;

/** A customer's own events, newest first, without a query. */
export const memoryListSchema = memoryFilterSchema.extend({
  customerId: z.string().min(1),
  limit: z.number().int().positive().max(1000),
});
export type MemoryList = z.infer<typeof memoryListSchema>;

export const customerSearchSchema = memoryFilterSchema.extend({
  ...queryShape,
  /** Number of customers. */
  limit: z.number().int().positive().max(1000),
  /** Matching events returned per customer. */
  perCustomer: z.number().int().positive().max(100),
});
export type CustomerSearch = z.infer<typeof customerSearchSchema>;

export type MemoryEvent = { id: string; customerId: string; payload: MemoryPayload };
export type MemoryHit = MemoryEvent & { score: number };
export type CustomerHit = { customerId: string; score: number; events: MemoryHit[] };
export type SimilarCustomer = { customerId: string; score: number };

/** Which embedding the memory holds; vectors from another model are meaningless against it. */
export type MemoryMeta = { modelId: string; dimensions: number };

export type CustomerVectorOptions = {
  /**
   * Half-life of an event's weight in the customer vector, by event time.
   * @defaultValue 30 days
   */
  halfLifeMs?: number;
};

export const DEFAULT_HALF_LIFE_MS = 30 * 24 * 3600 * 1000;

export interface MemoryStore {
  readonly meta: MemoryMeta;
  /** Creates collections/tables/indexes if missing (idempotent); refuses a memory of another model. */
  init(): Promise<void>;
  /** Idempotent by point id: the same id twice is one point. */
  upsert(points: MemoryPoint[]): Promise<void>;
  search(query: MemorySearch): Promise<MemoryHit[]>;
  /** A customer's events newest first (by event time), with the same filters as search. */
  list(query: MemoryList): Promise<MemoryEvent[]>;
  /** Which customers' history best matches a query: customers ranked by their best event. */
  searchCustomers(query: CustomerSearch): Promise<CustomerHit[]>;
  /** Customers whose recency-weighted behaviour vector is nearest this customer's. */
  similarCustomers(customerId: string, k: number): Promise<SimilarCustomer[]>;
  /** Identity stitching: every point of `fromId` moves to `toId`, their customer vectors merge. */
  reassignCustomer(fromId: string, toId: string): Promise<void>;
  /** Erasure: every point and the customer vector. Returns the number of points removed. */
  deleteCustomer(customerId: string): Promise<number>;
  count(customerId?: string): Promise<number>;
  close(): Promise<void>;
}

export function mismatchMessage(stored: MemoryMeta, wanted: MemoryMeta, where: string): string {
  return (
    `the vector memory at ${where} holds embeddings of model "${stored.modelId}" (${stored.dimensions} dimensions), ` +
    `but the embedder is "${wanted.modelId}" (${wanted.dimensions} dimensions); ` +
    "run `bun run reembed` to rebuild the memory with the current model, or set the embedding model back"
  );
}
