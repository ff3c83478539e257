import { Elysia } from "elysia";
import { readInsight } from "../../inference/insights";
import { authorize } from "../auth";
import { insightResponses } from "../insight-doc";
import type { AppDeps } from "../deps";
import { knownCustomer } from "../known-customer";

export function clientRoutes(deps: AppDeps) {
  return new Elysia({ name: "clients" }).get(
    "/clients/:id",
    async ({ params, request }) => {
      authorize(deps.keyRing, request.headers, "read");
      const { customerId, profile } = await knownCustomer(deps, params.id);
      const stored = await readInsight(deps.redis, deps.keys, customerId);
      return { customerId, profile, insight: stored?.insight ?? null, insightStale: stored ? stored.stale : null };
    },
    {
      detail: {
        summary: "A customer's structured profile (and latest insight)",
        tags: ["clients"],
        responses: insightResponses("the profile and the latest insight (null before the first scoring)", (insight) => ({
          type: "object",
          properties: { customerId: { type: "string" }, profile: { type: "object" }, insight: { anyOf: [insight, { type: "null" }] }, insightStale: { type: ["boolean", "null"] } },
        })),
      },
    },
  );
}
