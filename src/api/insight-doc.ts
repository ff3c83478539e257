/**
 * OpenAPI description of the insight the read routes return. Only the parts with a schema of
 * their own are spelled out (the behavioural predictions); the rest is listed by name.
 */
import { z } from "zod";
import { predictionsSchema } from "../../pipelines/customer-predictions";

const object = (description: string) => ({ type: "object", description });

export function insightJsonSchema(): Record<string, unknown> {
  const { $schema: _ignored, ...predictions } = z.toJSONSchema(predictionsSchema, { io: "output" }) as Record<string, unknown>;
  return {
    type: "object",
    properties: {
      customerId: { type: "string" },
      churn: object("churn probability, risk tier and drivers with their evidence"),
      predictions,
      recommendations: { type: "array", items: object("an item with the reason it is recommended") },
      strategy: object("the retention plan; its offers are sized by predictions.value"),
      source: { type: "string", enum: ["llm", "fallback"] },
      modelVersion: { type: "string" },
      computedAt: { type: "string", format: "date-time" },
    },
  };
}

/** `detail.responses` of a route whose answer `wrap`s the insight. */
export function insightResponses(description: string, wrap: (insight: Record<string, unknown>) => Record<string, unknown>) {
  return { 200: { description, content: { "application/json": { schema: wrap(insightJsonSchema()) } } } };
}
