/**
 * The retention strategy: what the LLM must return and what the fallback playbook builds.
 * One zod schema is both the validator of the model's answer and, through `z.toJSONSchema`,
 * the `response_format` sent to it, so the two cannot drift apart.
 */
import { z } from "zod";

export const STRATEGY_CHANNELS = ["email", "sms", "push", "in_app", "call", "ads"] as const;
export type StrategyChannel = (typeof STRATEGY_CHANNELS)[number];

// Optional fields are `nullable`, not `optional`: OpenAI's strict structured output needs
// every property listed as required, and null is how a model says "none".
export const strategyActionSchema = z.object({
  action: z.string().trim().min(1).max(300),
  channel: z.enum(STRATEGY_CHANNELS),
  offer: z.string().trim().min(1).max(200).nullable(),
  /** When to act, in words ("within 24 hours", "day 3 after the reminder"). */
  timing: z.string().trim().min(1).max(120),
});

export const retentionStrategySchema = z.object({
  /** One line: what this plan is for. */
  objective: z.string().trim().min(1).max(300),
  actions: z.array(strategyActionSchema).min(1).max(5),
  /** Ready-to-edit copy for the first action's channel. */
  messageDraft: z.string().trim().min(1).max(1_200),
  rationale: z.string().trim().min(1).max(1_200),
  /** `messageId`s of the customer's events the plan relies on (only ids given in the prompt are kept). */
  citedMessageIds: z.array(z.string().min(1).max(200)).max(10),
});

export type StrategyAction = z.infer<typeof strategyActionSchema>;
export type RetentionStrategy = z.infer<typeof retentionStrategySchema>;

export type StrategySource = "llm" | "fallback";

export type StrategyResult = {
  strategy: RetentionStrategy;
  source: StrategySource;
  /** The LLM that wrote it; absent for the fallback. */
  model?: string;
  /** Why the fallback answered, e.g. "llm not configured", "circuit open", "HTTP 503 (after 3 attempts)". */
  fallbackReason?: string;
};

/** The JSON Schema sent as `response_format`; strict-mode compatible (all properties required, no extras). */
export function retentionStrategyJsonSchema(): Record<string, unknown> {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(retentionStrategySchema) as Record<string, unknown>;
  return schema;
}
