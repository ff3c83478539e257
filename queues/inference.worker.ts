import type { Job } from "bullmq";
import type { Insight, InsightService } from "../src/inference/insights";
import type { RefitProgress, RefitSummary } from "../src/inference/refit";
import { inferenceJobNames, refitJobSchema, scoreJobSchema, type InferenceJob } from "./inference.queue";

export type InferenceDeps = {
  insights: InsightService;
  refit: (options: { asOfMs?: number; reason?: string; onProgress?: (p: RefitProgress) => void }) => Promise<RefitSummary>;
};

/** score → the customer's insight (also the job's return value); refit → new models for every worker, with progress. */
export async function processInference(job: Job<InferenceJob>, d: InferenceDeps): Promise<Insight | RefitSummary> {
  if (job.name === inferenceJobNames.refit) {
    const { reason, asOfMs } = refitJobSchema.parse(job.data);
    return d.refit({ reason, asOfMs, onProgress: (p) => void job.updateProgress(p).catch(() => undefined) });
  }
  const { customerId, asOfMs } = scoreJobSchema.parse(job.data);
  return d.insights.compute(customerId, { asOfMs });
}
