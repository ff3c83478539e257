import type { Queue } from "bullmq";
import { z } from "zod";

export const inferenceJobNames = { score: "score", refit: "refit" } as const;

/** `asOf`: score as of that moment (epoch ms), from the events before it; absent = now. */
export const scoreJobSchema = z.object({ customerId: z.string().min(1), asOfMs: z.number().int().optional() });
export type ScoreJob = z.infer<typeof scoreJobSchema>;
/** `reason`: why (asked by an admin, data grew…); `asOfMs`: fit as of that instant. */
export const refitJobSchema = z.object({ reason: z.string().default("requested"), asOfMs: z.number().int().optional() });
export type RefitJob = z.input<typeof refitJobSchema>;
export type InferenceJob = ScoreJob | RefitJob;

/** Automatic refits share one deduplication id, so many workers noticing the same growth add one job. */
export const AUTO_REFIT_DEDUP_ID = "refit-auto";

export async function enqueueRefit(queue: Queue<InferenceJob>, job: RefitJob, automatic: boolean): Promise<string> {
  const added = await queue.add(inferenceJobNames.refit, job, automatic ? { deduplication: { id: AUTO_REFIT_DEDUP_ID } } : {});
  return String(added.id);
}

/** Scores on request; returns the job of each customer, in order. */
export async function enqueueScores(queue: Queue<InferenceJob>, customerIds: string[], asOfMs?: number): Promise<{ customerId: string; jobId: string }[]> {
  const jobs = await queue.addBulk(
    customerIds.map((customerId) => ({ name: inferenceJobNames.score, data: asOfMs === undefined ? { customerId } : { customerId, asOfMs } })),
  );
  return jobs.map((job, i) => ({ customerId: customerIds[i]!, jobId: String(job.id) }));
}
