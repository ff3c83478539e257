import type { Queue } from "bullmq";
import { z } from "zod";

export const inferenceJobNames = { score: "score", refit: "refit" } as const;

export const scoreJobSchema = z.object({ customerId: z.string().min(1) });
export type ScoreJob = z.infer<typeof scoreJobSchema>;
/** What a score job of an erased customer holds and returns instead: nothing of theirs. */
export const ERASED_JOB = { erased: true } as const;
export type InferenceJob = ScoreJob | Record<string, never> | typeof ERASED_JOB;

const SCORE_JOB_ID = /^sc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Score job ids are handed to API callers: random (not BullMQ's sequence), so one caller cannot
 * read another's results by counting.
 */
export const newScoreJobId = () => `sc-${crypto.randomUUID()}`;

/** True for ids newScoreJobId makes; anything else names no scoring job (and must never reach BullMQ's own keys). */
export const isScoreJobId = (id: string) => SCORE_JOB_ID.test(id);

/** Scores on request; returns the job of each customer, in order. */
export async function enqueueScores(queue: Queue<InferenceJob>, customerIds: string[]): Promise<{ customerId: string; jobId: string }[]> {
  const jobs = await queue.addBulk(customerIds.map((customerId) => ({ name: inferenceJobNames.score, data: { customerId }, opts: { jobId: newScoreJobId() } })));
  return jobs.map((job, i) => ({ customerId: customerIds[i]!, jobId: String(job.id) }));
}
