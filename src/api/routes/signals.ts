import { Elysia, t } from "elysia";
import { Job, QueueEvents, type Queue } from "bullmq";
import { z } from "zod";
import { enqueueScores, isScoreJobId, type InferenceJob } from "../../../queues/inference.queue";
import { queueNames, queueOptions } from "../../../queues/names";
import { idTextSchema } from "../../../pipelines/segment";
import { CustomerNotFoundError, InvalidRequestError, NotFoundError, PayloadTooLargeError } from "../../errors";
import { bullmqErrorListener, createRedis } from "../../redis/connection";
import { insightSchema } from "../../inference/insight-schema";
import { toJsonSchema } from "../insight-doc";
import { authorize } from "../auth";
import type { AppDeps } from "../deps";

const asOf = z
  .string()
  .refine((v) => !Number.isNaN(Date.parse(v)) && /^\d{4}-\d{2}-\d{2}/.test(v), "an ISO-8601 date or date-time, e.g. 2017-10-02 or 2017-10-02T12:00:00Z")
  .refine((v) => Date.parse(v) <= Date.now(), "must not be in the future")
  .optional()
  .describe("Score as of this moment, from the events before it (a bare date is the start of that day, UTC); default now");
export const signalBodySchema = z.union([
  z.strictObject({ customerId: idTextSchema, asOf }),
  z.strictObject({ customerIds: z.array(idTextSchema).min(1), asOf }),
]);

type Requested = { customerId: string; jobId: string };

// Request bodies are described as they are sent (defaults optional), answers as they come back.
const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
const jobResultSchema = z.object({
  jobId: z.string(),
  customerId: z.string(),
  state: z.string(),
  insight: insightSchema.optional(),
  error: z.string().optional(),
});
const resultsSchema = toJsonSchema(
  z.object({
    jobs: z.array(z.object({ customerId: z.string(), jobId: z.string() })),
    results: z.array(jobResultSchema),
    notFound: z.array(z.object({ customerId: z.string(), error: z.literal("CUSTOMER_NOT_FOUND") })),
  }),
);

export function signalRoutes(deps: AppDeps) {
  const { config } = deps;
  const queue = deps.queues[queueNames.inference] as Queue<InferenceJob>;
  // Every request waiting on a score holds a listener on the queue and its events until the job ends:
  // as many as there are waiting requests, which is no leak.
  queue.setMaxListeners(0);
  let events: QueueEvents | undefined;
  let eventsRedis: ReturnType<typeof createRedis> | undefined;
  // Waiting needs a blocking reader of its own, opened on the first ?wait=true.
  const queueEvents = async () => {
    if (!events) {
      eventsRedis = createRedis(config, "worker", deps.log);
      events = new QueueEvents(queueNames.inference, { ...queueOptions(config, queueNames.inference, eventsRedis) });
      events.setMaxListeners(0);
      events.on("error", bullmqErrorListener(deps.log, "inference queue events"));
      await events.waitUntilReady();
    }
    return events;
  };

  /** Until the job finished or the deadline passed. */
  async function settle(job: Job, deadline: number): Promise<void> {
    const events = await queueEvents();
    // QueueEvents can miss a completion that lands while it starts listening: look again twice a second.
    for (let current: Job | undefined = job; current && !current.finishedOn && Date.now() < deadline; current = await Job.fromId(queue, job.id!))
      await current.waitUntilFinished(events, Math.max(1, Math.min(500, deadline - Date.now()))).catch(() => undefined);
  }

  async function outcome(jobId: string, waitMs?: number) {
    if (!isScoreJobId(jobId)) return undefined;
    const job = await Job.fromId(queue, jobId);
    if (!job) return undefined;
    if (waitMs && !job.finishedOn) await settle(job, Date.now() + waitMs);
    // The state first: a job read before it finished has no result yet, even if it finishes right after.
    const state = await queue.getJobState(jobId);
    const fresh = (await Job.fromId(queue, jobId)) ?? job;
    // An erased customer's jobs are gone for every caller, even while the erasure is still running.
    const { customerId, erased } = fresh.data as { customerId?: string; erased?: boolean };
    if (erased || (customerId && (await deps.suppression.erasedOf([customerId])).size)) return undefined;
    return {
      jobId,
      customerId,
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
          summary: "Score customers' churn (and recommendations, strategy), now or as of a past moment; ?wait=true returns the results inline",
          tags: ["inference"],
          security: [{ bearer: [] }],
          requestBody: {
            required: true,
            content: { "application/json": { schema: jsonSchema(signalBodySchema), examples: { one: { value: { customerId: "ada" } }, asOf: { value: { customerIds: ["ada", "bob"], asOf: "2017-10-02" } } } } },
          },
          responses: {
            200: { description: "every job finished (with ?wait=true)", content: { "application/json": { schema: resultsSchema } } },
            202: { description: "queued, or still running when the wait ended: follow each job at /signals/churn/{jobId}" },
            400: { description: "not {customerId} or {customerIds}, or a bad asOf (the field and why)" },
            404: { description: "the one customer asked for is unknown" },
            413: { description: "more customers than LIFELINE_SIGNAL_MAX_BULK" },
          },
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
      {
        detail: {
          summary: "Status or result of a scoring job",
          tags: ["inference"],
          security: [{ bearer: [] }],
          responses: { 200: { description: "the job's state, and its insight once completed", content: { "application/json": { schema: toJsonSchema(jobResultSchema) } } }, 404: { description: "no such job" } },
        },
      },
    );
}
