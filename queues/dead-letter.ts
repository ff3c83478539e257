import type { Job, Queue } from "bullmq";
import { z } from "zod";
import { jobIdFor } from "./job-id";

export const deadLetterSchema = z.object({
  queue: z.string(),
  jobName: z.string(),
  jobId: z.string().optional(),
  data: z.unknown(),
  reason: z.string(),
  stack: z.string().optional(),
  attemptsMade: z.number(),
  failedAt: z.string(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;

/** True when BullMQ will not try this job again. */
export function isFinalFailure(job: Job, err: Error): boolean {
  return err.name === "UnrecoverableError" || job.attemptsMade >= (job.opts.attempts ?? 1);
}

export async function recordDeadLetter(deadLetters: Queue, queue: string, job: Job, err: Error): Promise<void> {
  const letter: DeadLetter = {
    queue,
    jobName: job.name,
    jobId: job.id,
    data: job.data,
    reason: err.message,
    stack: err.stack,
    attemptsMade: job.attemptsMade,
    failedAt: new Date().toISOString(),
  };
  // One letter per failed job, even if the failure is reported twice.
  await deadLetters.add(`${queue}/${job.name}`, letter, { jobId: jobIdFor(`dl-${queue}-${job.id ?? crypto.randomUUID()}`) });
}

/** `unknown`: ids asked for that are no dead letter (never were, or already replayed). */
export type ReplayResult = { replayed: number; skipped: { id: string; reason: string }[]; unknown: string[] };

/** Puts dead letters back on their queues as new jobs, then removes them. */
export async function replayDeadLetters(deadLetters: Queue, queues: Record<string, Queue>, ids?: string[]): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: 0, skipped: [], unknown: [] };
  let jobs: Job[];
  if (ids) {
    const found = await Promise.all(ids.map((id) => deadLetters.getJob(id)));
    jobs = found.filter((j): j is Job => Boolean(j));
    result.unknown = ids.filter((_, i) => !found[i]);
  } else jobs = await deadLetters.getJobs(["waiting", "delayed", "paused", "prioritized"], 0, -1);
  for (const job of jobs) {
    const parsed = deadLetterSchema.safeParse(job.data);
    const target = parsed.success ? queues[parsed.data.queue] : undefined;
    if (!parsed.success || !target) {
      result.skipped.push({ id: String(job.id), reason: parsed.success ? `unknown queue ${parsed.data.queue}` : "not a dead letter" });
      continue;
    }
    await target.add(parsed.data.jobName, parsed.data.data, { jobId: jobIdFor(`replay-${job.id}-${Date.now()}`) });
    await job.remove();
    result.replayed++;
  }
  return result;
}
