import { Elysia } from "elysia";
import { CustomerNotFoundError } from "../../errors";
import { readInsight } from "../../inference/insights";
import { authorize } from "../auth";
import type { AppDeps } from "../deps";

export function clientRoutes(deps: AppDeps) {
  return new Elysia({ name: "clients" }).get(
    "/clients/:id",
    async ({ params, request }) => {
      authorize(deps.keyRing, request.headers, "read");
      const customerId = await deps.identities.resolveId(params.id);
      const profile = customerId && (await deps.profiles.get(customerId));
      if (!profile) throw new CustomerNotFoundError(`no customer "${params.id}"`);
      const stored = await readInsight(deps.redis, deps.keys, customerId);
      return { customerId, profile, insight: stored?.insight ?? null, insightStale: stored ? stored.stale : null };
    },
    { detail: { summary: "A customer's structured profile (and latest insight)", tags: ["clients"] } },
  );
}
