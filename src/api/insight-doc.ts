/** OpenAPI description of the insight the read routes return, from its zod schema. */
import { z } from "zod";
import { insightSchema } from "../inference/insight-schema";

export const toJsonSchema = (schema: z.ZodType) => {
  const { $schema: _ignored, ...json } = z.toJSONSchema(schema, { io: "output", unrepresentable: "any" }) as Record<string, unknown>;
  return json;
};

export const insightJsonSchema = () => toJsonSchema(insightSchema);

/** `detail.responses` of a route whose answer `wrap`s the insight. */
export function insightResponses(description: string, wrap: (insight: Record<string, unknown>) => Record<string, unknown>) {
  return { 200: { description, content: { "application/json": { schema: wrap(insightJsonSchema()) } } } };
}
