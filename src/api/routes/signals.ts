import { Elysia, t } from "elysia";
import { Job, QueueEvents, type Queue } from "bullmq";
import { z } from "zod";
import { enqueueScores, type InferenceJob } from "../../../queues/inference.queue";
import { queueNames, queueOptions } from "../../../queues/names";
import { CustomerNotFoundError, InvalidRequestError, NotFoundError, PayloadTooLargeError } from "../../errors";
import { createRedis } from "../../redis/connection";
import { authorize } from "../auth";
import { insightResponses } from "../insight-doc";
import type { AppDeps } from "../deps";

const signalBodySchema = z.union([
  z.strictObject({ customerId: z.string().min(1) }),
  z.strictObject({ customerIds: z.array(z.string().min(1)).min(1) }),
]);

type Requested = { customerId: string; jobId: string };

export function signalRoutes(deps: AppDeps) {
  const { config } = deps;
  const queue = deps.queues[queueNames.inference] as Queue<InferenceJob>;
  let events: QueueEvents | undefined;
  // Waiting needs a blocking reader of its own, opened on the first ?wait=true.
  const queueEvents = async () => {
    if (!events) {
      events = new QueueEvents(queueNames.inference, { ...queueOptions(config, queueNames.inference, createRedis(config, "worker")) });
      await events.waitUntilReady();
    }
    return events;
  };

  async function outcome(jobId: string, waitMs?: number) {
    const job = await Job.fromId(queue, jobId);
    if (!job) return undefined;
    if (waitMs && !job.finishedOn) await job.waitUntilFinished(await queueEvents(), waitMs).catch(() => undefined);
    const fresh = (await Job.fromId(queue, jobId)) ?? job;
    const state = await fresh.getState();
    return {
      jobId,
      customerId: (fresh.data as { customerId?: string }).customerId,
      state,
      ...(state === "completed" ? { insight: fresh.returnvalue } : {}),
      ...(state === "failed" ? { error: fresh.failedReason } : {}),
    };
  }

  return new Elysia({ name: "signals" })
    .post(
      "/signals/churn",
      async ({ body, query, request, set }) => {
        authorize(deps.keyRing, request.headers, "read");
        const parsed = signalBodySchema.safeParse(body);
        if (!parsed.success)
          throw new InvalidRequestError("send {customerId} or {customerIds:[...]}", {
            details: { errors: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })) },
          });
        const ids = "customerId" in parsed.data ? [parsed.data.customerId] : [...new Set(parsed.data.customerIds)];
        if (ids.length > config.LIFELINE_SIGNAL_MAX_BULK)
          throw new PayloadTooLargeError(`at most ${config.LIFELINE_SIGNAL_MAX_BULK} customers per request`, { details: { limitCustomers: config.LIFELINE_SIGNAL_MAX_BULK } });

        const resolved = await Promise.all(ids.map(async (id) => ({ id, customerId: await deps.identities.resolveId(id) })));
        const unknown = resolved.filter((r) => !r.customerId).map((r) => r.id);
        if (unknown.length === ids.length && ids.length === 1) throw new CustomerNotFoundError(`no customer "${ids[0]}"`);
        const jobs: Requested[] = await enqueueScores(queue, resolved.filter((r) => r.customerId).map((r) => r.customerId!));
        const notFound = unknown.map((customerId) => ({ customerId, error: "CUSTOMER_NOT_FOUND" }));

        if (query.wait !== "true") {
          set.status = 202;
          return { jobs, notFound };
        }
        const deadline = Date.now() + config.LIFELINE_SIGNAL_WAIT_MS;
        const results = await Promise.all(jobs.map((j) => outcome(j.jobId, Math.max(1, deadline - Date.now()))));
        const done = results.every((r) => r?.state === "completed" || r?.state === "failed");
        set.status = done ? 200 : 202;
        return { jobs, results, notFound };
      },
      {
        parse: "json",
        query: t.Object({ wait: t.Optional(t.String()) }),
        detail: {
          summary: "Score customers' churn (and recommendations, strategy); ?wait=true returns the results inline",
          tags: ["inference"],
          responses: insightResponses("with ?wait=true, each job's insight once scored (202 and the job ids otherwise)", (insight) => ({
            type: "object",
            properties: {
              jobs: { type: "array", items: { type: "object", properties: { customerId: { type: "string" }, jobId: { type: "string" } } } },
              results: { type: "array", items: { type: "object", properties: { jobId: { type: "string" }, customerId: { type: "string" }, state: { type: "string" }, insight } } },
              notFound: { type: "array", items: { type: "object", properties: { customerId: { type: "string" }, error: { type: "string" } } } },
            },
          })),
        },
      },
    )
    .get(
      "/signals/churn/:jobId",
      async ({ params, request }) => {
        authorize(deps.keyRing, request.headers, "read");
        const found = await outcome(params.jobId);
        if (!found) throw new NotFoundError(`no scoring job "${params.jobId}"`);
        return found;
      },
      { detail: { summary: "Status or result of a scoring job", tags: ["inference"] } },
    );
}
