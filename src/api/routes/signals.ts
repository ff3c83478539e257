import { Elysia, t } from "elysia";
import { Job, QueueEvents, type Queue } from "bullmq";
import { z } from "zod";
import { enqueueScores, type InferenceJob } from "../../../queues/inference.queue";
import { queueNames, queueOptions } from "../../../queues/names";
import { CustomerNotFoundError, InvalidRequestError, NotFoundError, PayloadTooLargeError } from "../../errors";
import { createRedis } from "../../redis/connection";
import { authorize } from "../auth";
import type { AppDeps } from "../deps";

const asOf = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(v)) && /^\d{4}-\d{2}-\d{2}/.test(v), "an ISO-8601 date or date-time, e.g. 2017-10-02 or 2017-10-02T12:00:00Z")
  .refine((v) => Date.parse(v) <= Date.now(), "must not be in the future")
  .optional()
  .describe("Score as of this moment, from the events before it (a bare date is the start of that day, UTC); default now");
export const signalBodySchema = z.union([
  z.strictObject({ customerId: z.string().min(1), asOf }),
  z.strictObject({ customerIds: z.array(z.string().min(1)).min(1), asOf }),
]);

type Requested = { customerId: string; jobId: string };

export function signalRoutes(deps: AppDeps) {
  const { config } = deps;
  const queue = deps.queues[queueNames.inference] as Queue<InferenceJob>;
  let events: QueueEvents | undefined;
  let eventsRedis: ReturnType<typeof createRedis> | undefined;
  // Waiting needs a blocking reader of its own, opened on the first ?wait=true.
  const queueEvents = async () => {
    if (!events) {
      eventsRedis = createRedis(config, "worker");
      events = new QueueEvents(queueNames.inference, { ...queueOptions(config, queueNames.inference, eventsRedis) });
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
    // The waiting reader holds Redis connections of its own (BullMQ blocks on a duplicate of the one
    // it is given): close both with the app, or the process never exits.
    .onStop(async () => {
      await events?.close();
      eventsRedis?.disconnect();
      events = eventsRedis = undefined;
    })
    .post(
      "/signals/churn",
      async ({ body, query, request, set }) => {
        authorize(deps.keyRing, request.headers, "read");
        const parsed = signalBodySchema.safeParse(body);
        if (!parsed.success)
          throw new InvalidRequestError("send {customerId} or {customerIds:[...]}, optionally with asOf", {
            details: { errors: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })) },
          });
        const ids = "customerId" in parsed.data ? [parsed.data.customerId] : [...new Set(parsed.data.customerIds)];
        if (ids.length > config.LIFELINE_SIGNAL_MAX_BULK)
          throw new PayloadTooLargeError(`at most ${config.LIFELINE_SIGNAL_MAX_BULK} customers per request`, { details: { limitCustomers: config.LIFELINE_SIGNAL_MAX_BULK } });

        const resolved = await Promise.all(ids.map(async (id) => ({ id, customerId: await deps.identities.resolveId(id) })));
        const unknown = resolved.filter((r) => !r.customerId).map((r) => r.id);
        if (unknown.length === ids.length && ids.length === 1) throw new CustomerNotFoundError(`no customer "${ids[0]}"`);
        const asOfMs = parsed.data.asOf === undefined ? undefined : Date.parse(parsed.data.asOf);
        const jobs: Requested[] = await enqueueScores(queue, resolved.filter((r) => r.customerId).map((r) => r.customerId!), asOfMs);
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
