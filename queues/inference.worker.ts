import type { Job } from "bullmq";
import { CustomerNotFoundError } from "../src/errors";
import type { Insight, InsightService } from "../src/inference/insights";
import type { RefitProgress, RefitSummary } from "../src/inference/refit";
import type { Suppression } from "../src/profiles/suppression";
import { ERASED_JOB, inferenceJobNames, refitJobSchema, scoreJobSchema, type InferenceJob } from "./inference.queue";

export type InferenceDeps = {
  insights: InsightService;
  refit: (options: { asOfMs?: number; reason?: string; onProgress?: (p: RefitProgress) => void }) => Promise<RefitSummary>;
  suppression: Pick<Suppression, "erasedOf">;
};

/** score → the customer's insight (also the job's return value); refit → new models for every worker, with progress. */
export async function processInference(job: Job<InferenceJob>, d: InferenceDeps): Promise<Insight | RefitSummary | typeof ERASED_JOB> {
  if (job.name === inferenceJobNames.refit) {
    const { reason, asOfMs } = refitJobSchema.parse(job.data);
    return d.refit({ reason, asOfMs, onProgress: (p) => void job.updateProgress(p).catch(() => undefined) });
  }
  const { customerId, asOfMs } = scoreJobSchema.parse(job.data);
  // A customer erased while this job waited or ran is neither scored nor dead-lettered, and the
  // job keeps nothing of theirs (finished jobs are kept for a day).
  const erased = async (ids: string[]) => (await d.suppression.erasedOf(ids)).size > 0;
  try {
    const insight = await d.insights.compute(customerId, { asOfMs });
    if (!(await erased([customerId, insight.customerId]))) return insight;
  } catch (err) {
    if (!(err instanceof CustomerNotFoundError) || !(await erased([customerId]))) throw err;
  }
  await job.updateData(ERASED_JOB);
  return ERASED_JOB;
}
