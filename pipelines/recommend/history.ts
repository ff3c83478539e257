import { z } from "zod";

export const DAY_MS = 86_400_000;

export const recKindSchema = z.enum(["view", "cart", "wishlist", "purchase"]);
export type RecKind = z.infer<typeof recKindSchema>;

export const recEventSchema = z.object({
  ts: z.number(),
  itemId: z.string().min(1),
  name: z.string().optional(),
  category: z.string().optional(),
  kind: recKindSchema,
  quantity: z.number().optional(),
});
export type RecEvent = z.infer<typeof recEventSchema>;

export const recHistorySchema = z.object({ customerId: z.string(), events: z.array(recEventSchema) });
export type RecHistory = z.infer<typeof recHistorySchema>;

export const sourceNames = ["users", "items", "after", "revisit", "popular", "live", "rebuy"] as const;
export type SourceName = (typeof sourceNames)[number];

export const recommendationSchema = z.object({
  itemId: z.string(),
  name: z.string().optional(),
  /** Blend score: each source's scores are scaled to at most 1 per query, then weighted and summed. */
  score: z.number(),
  /** Says what the evidence is, with its count: "bought with Running socks by 14 customers". */
  reason: z.string(),
  /** The count behind the reason: co-buyers, similar customers who bought it, buyers overall… never 0. */
  support: z.number().int().positive(),
  source: z.enum(sourceNames),
});
export type Recommendation = z.infer<typeof recommendationSchema>;

/** A customer's items as parallel arrays, sorted by item index. */
export type SparseVector = { item: Int32Array; weight: Float32Array; bought: Uint8Array; lastTs: Float64Array; norm: number };
/** item → the customers who have it, with that customer's weight */
export type UsersByItem = { start: Int32Array; user: Int32Array; weight: Float32Array };

export const latestTs = (events: readonly RecEvent[]) => events.reduce((t, e) => (e.ts > t ? e.ts : t), -Infinity);

export const decayFactor = (ageMs: number, halfLifeDays: number) =>
  Number.isFinite(halfLifeDays) ? Math.pow(0.5, Math.max(0, ageMs) / (halfLifeDays * DAY_MS)) : 1;

export const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
