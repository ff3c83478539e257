import type { Queue } from "bullmq";
import { z } from "zod";

export const inferenceJobNames = { score: "score", refit: "refit" } as const;

/** `asOf`: score as of that moment (epoch ms), from the events before it; absent = now. */
export const scoreJobSchema = z.object({ customerId: z.string().min(1), asOfMs: z.number().int().optional() });
export type ScoreJob = z.infer<typeof scoreJobSchema>;
/** `reason`: why (asked by an admin, data grew…); `asOfMs`: fit as of that instant. */
export const refitJobSchema = z.object({ reason: z.string().default("requested"), asOfMs: z.number().int().optional() });
export type RefitJob = z.input<typeof refitJobSchema>;

/** What a score job of an erased customer holds and returns instead: nothing of theirs. */
export const ERASED_JOB = { erased: true } as const;
export type InferenceJob = ScoreJob | RefitJob | typeof ERASED_JOB;

/** Automatic refits share one deduplication id, so many workers noticing the same growth add one job. */
export const AUTO_REFIT_DEDUP_ID = "refit-auto";

export async function enqueueRefit(queue: Queue<InferenceJob>, job: RefitJob, automatic: boolean): Promise<string> {
  const added = await queue.add(inferenceJobNames.refit, job, automatic ? { deduplication: { id: AUTO_REFIT_DEDUP_ID } } : {});
  return String(added.id);
}

const SCORE_JOB_ID = /^sc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Score job ids are handed to API callers: random (not BullMQ's sequence), so one caller cannot
 * read another's results by counting.
 */
export const newScoreJobId = () => `sc-${crypto.randomUUID()}`;

/** True for ids newScoreJobId makes; anything else names no scoring job (and must never reach BullMQ's own keys). */
export const isScoreJobId = (id: string) => SCORE_JOB_ID.test(id);

/** Scores on request; returns the job of each customer, in order. */
export async function enqueueScores(queue: Queue<InferenceJob>, customerIds: string[], asOfMs?: number): Promise<{ customerId: string; jobId: string }[]> {
  const jobs = await queue.addBulk(
    customerIds.map((customerId) => ({
      name: inferenceJobNames.score,
      data: asOfMs === undefined ? { customerId } : { customerId, asOfMs },
      opts: { jobId: newScoreJobId() },
    })),
  );
  return jobs.map((job, i) => ({ customerId: customerIds[i]!, jobId: String(job.id) }));
}
