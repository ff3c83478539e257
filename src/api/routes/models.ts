import { Elysia } from "elysia";
import { Job, type Queue } from "bullmq";
import { z } from "zod";
import { enqueueRefit, inferenceJobNames, type InferenceJob } from "../../../queues/inference.queue";
import { queueNames } from "../../../queues/names";
import { InvalidJsonError, InvalidRequestError, NotFoundError } from "../../errors";
import { modelSlots } from "../../inference/model-slots";
import { readDataStats } from "../../inference/refit";
import { refitPolicy, refitReason } from "../../inference/refit-policy";
import { parseIsoTime } from "../../../pipelines/iso-time";
import { authorizeAdmin } from "../admin-auth";
import type { AppDeps } from "../deps";

export const refitRequestSchema = z.strictObject({
  /** Fit as of this moment (ISO-8601); default now, or just after the latest event when the data ends earlier. */
  asOf: z.string().refine((v) => !Number.isNaN(parseIsoTime(v)), "an ISO-8601 date or date-time").optional(),
});

/** Refit on demand and what is known of the fitted models. Admin keys only. */
export function modelRoutes(deps: AppDeps) {
  const admin = (request: Request) => authorizeAdmin(deps.keyRing, deps.adminSessions, request.headers);
  const queue = deps.queues[queueNames.inference] as Queue<InferenceJob>;
  const slots = modelSlots(deps.redis, deps.keys);

  return new Elysia({ name: "models" })
    .post(
      "/admin/refit",
      async ({ request, set }) => {
        admin(request);
        const text = await request.text();
        let raw: unknown = {};
        try {
          if (text.trim()) raw = JSON.parse(text);
        } catch {
          throw new InvalidJsonError('request body is not valid JSON; send {} or {"asOf": "2024-05-01"}');
        }
        const parsed = refitRequestSchema.safeParse(raw);
        if (!parsed.success)
          throw new InvalidRequestError(`${parsed.error.issues[0]?.path.join(".") || "body"}: ${parsed.error.issues[0]?.message}`, {
            details: { errors: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })) },
          });
        const asOfMs = parsed.data.asOf === undefined ? undefined : parseIsoTime(parsed.data.asOf);
        const jobId = await enqueueRefit(queue, { reason: "requested by an admin", ...(asOfMs !== undefined ? { asOfMs } : {}) }, false);
        set.status = 202;
        return { jobId, status: `/admin/refit/${jobId}` };
      },
      {
        parse: "none",
        detail: {
          summary: "Refit the churn model and the recommender now (202 with the job id; follow it at /admin/refit/:jobId)",
          tags: ["admin"],
          security: [{ bearer: [] }],
          requestBody: { required: false, content: { "application/json": { schema: z.toJSONSchema(refitRequestSchema) as Record<string, unknown>, example: {} } } },
          responses: { 202: { description: "refit queued", content: { "application/json": { example: { jobId: "17", status: "/admin/refit/17" } } } } },
        },
      },
    )
    .get(
      "/admin/refit/:jobId",
      async ({ params, request }) => {
        admin(request);
        const job = await Job.fromId(queue, params.jobId).catch(() => undefined);
        if (!job || job.name !== inferenceJobNames.refit) throw new NotFoundError(`no refit job "${params.jobId}"`);
        const state = await job.getState();
        return {
          jobId: params.jobId,
          state,
          progress: job.progress,
          ...(state === "completed" ? { result: job.returnvalue } : {}),
          ...(state === "failed" ? { error: job.failedReason } : {}),
        };
      },
      { detail: { summary: "Progress and result of a refit", tags: ["admin"], security: [{ bearer: [] }] } },
    )
    .get(
      "/admin/models",
      async ({ request }) => {
        admin(request);
        const [meta, data] = await Promise.all([slots.meta(), readDataStats(deps.redis, deps.keys)]);
        return {
          churn: meta.churn ?? null,
          recommender: meta.recommender ?? null,
          lastRefit: meta.lastRefit ?? null,
          data,
          /** Why the next automatic check would refit, or null. */
          refitDue: (deps.config.LIFELINE_REFIT_AUTO && refitReason(meta.churn, data, Date.now(), refitPolicy(deps.config))) || null,
        };
      },
      { detail: { summary: "Each model's version, when and on how much data it was fitted, and its validation figures", tags: ["admin"], security: [{ bearer: [] }] } },
    );
}
