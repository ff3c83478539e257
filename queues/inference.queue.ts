import type { Queue } from "bullmq";
import { z } from "zod";

export const inferenceJobNames = { score: "score", refit: "refit" } as const;

export const scoreJobSchema = z.object({ customerId: z.string().min(1) });
export type ScoreJob = z.infer<typeof scoreJobSchema>;
export type InferenceJob = ScoreJob | Record<string, never>;

/** Scores on request; returns the job of each customer, in order. */
export async function enqueueScores(queue: Queue<InferenceJob>, customerIds: string[]): Promise<{ customerId: string; jobId: string }[]> {
  const jobs = await queue.addBulk(customerIds.map((customerId) => ({ name: inferenceJobNames.score, data: { customerId } })));
  return jobs.map((job, i) => ({ customerId: customerIds[i]!, jobId: String(job.id) }));
}
