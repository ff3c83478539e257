import type { Job } from "bullmq";
import type { Insight, InsightService } from "../src/inference/insights";
import { inferenceJobNames, scoreJobSchema, type InferenceJob } from "./inference.queue";

export type InferenceDeps = { insights: InsightService; refit: () => Promise<void> };

/** score → the customer's insight (also the job's return value); refit → new models for every worker. */
export async function processInference(job: Job<InferenceJob>, d: InferenceDeps): Promise<Insight | { refitted: true }> {
  if (job.name === inferenceJobNames.refit) {
    await d.refit();
    return { refitted: true };
  }
  const { customerId } = scoreJobSchema.parse(job.data);
  return d.insights.compute(customerId);
}
