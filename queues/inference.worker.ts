import type { Job } from "bullmq";
import { CustomerNotFoundError } from "../src/errors";
import type { Insight, InsightService } from "../src/inference/insights";
import type { Suppression } from "../src/profiles/suppression";
import { ERASED_JOB, inferenceJobNames, scoreJobSchema, type InferenceJob } from "./inference.queue";

export type InferenceDeps = { insights: InsightService; refit: () => Promise<void>; suppression: Pick<Suppression, "erasedOf"> };

/** score → the customer's insight (also the job's return value); refit → new models for every worker. */
export async function processInference(job: Job<InferenceJob>, d: InferenceDeps): Promise<Insight | { refitted: true } | typeof ERASED_JOB> {
  if (job.name === inferenceJobNames.refit) {
    await d.refit();
    return { refitted: true };
  }
  const { customerId } = scoreJobSchema.parse(job.data);
  // A customer erased while this job waited or ran is neither scored nor dead-lettered, and the
  // job keeps nothing of theirs (finished jobs are kept for a day).
  const erased = async (ids: string[]) => (await d.suppression.erasedOf(ids)).size > 0;
  try {
    const insight = await d.insights.compute(customerId);
    if (!(await erased([customerId, insight.customerId]))) return insight;
  } catch (err) {
    if (!(err instanceof CustomerNotFoundError) || !(await erased([customerId]))) throw err;
  }
  await job.updateData(ERASED_JOB);
  return ERASED_JOB;
}
