/** The insight a scoring job answers and GET /clients/:id shows, as one zod schema (types and OpenAPI from it). */
import { z } from "zod";
import { predictionsSchema } from "../../pipelines/customer-predictions";
import { recommendationSchema } from "../../pipelines/recommend";
import { churnPredictionSchema } from "./churn-prediction";
import { retentionStrategySchema } from "./strategy-schema";

export const insightSchema = z.object({
  customerId: z.string(),
  churn: churnPredictionSchema,
  /** How many purchases, how soon, how valuable (docs/predictions.md). */
  predictions: predictionsSchema,
  /** New items for this customer, each with the evidence behind it; fewer than asked rather than any without evidence. */
  recommendations: z.array(recommendationSchema),
  /** In a catalogue customers buy again (decided from the data at refit): their own items that are due. */
  buyAgain: z.array(recommendationSchema),
  strategy: retentionStrategySchema,
  /** `llm`: written by the configured model; `fallback`: the deterministic playbook. */
  source: z.enum(["llm", "fallback"]),
  strategyModel: z.string().optional(),
  /** Why the playbook answered instead of the LLM (not configured, circuit open, HTTP 503…). */
  fallbackReason: z.string().optional(),
  modelVersion: z.string(),
  computedAt: z.string(),
  /** The moment it was asked for, when not "now": only events before it were used. */
  asOf: z.string().optional(),
  /** Time of the latest event it used (null: none), so a stale history shows. */
  dataThrough: z.string().nullable(),
});
export type Insight = z.infer<typeof insightSchema>;
