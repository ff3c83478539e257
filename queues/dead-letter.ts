import type { Job, Queue } from "bullmq";
import { z } from "zod";
import { erasedMatcher, ownerOfStored } from "../src/profiles/erased-matcher";
import type { Suppression } from "../src/profiles/suppression";
import type { CleanJob } from "./clean.queue";
import type { EmbedJob } from "./embed.queue";
import { jobIdFor } from "./job-id";
import { scrubJobData } from "./scrub-job-data";

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

/** What of a job's data belongs to customers erased now (suppressed or tombstoned); undefined when nothing does. */
async function erasedPart(queue: string, data: unknown, suppression: Pick<Suppression, "erasedOf">) {
  const erased = await suppression.erasedOf(customersIn(queue, data));
  return erased.size ? scrubJobData(queue, data, erasedMatcher(erased)) : undefined;
}

/** Keeps a finally failed job for an operator, without what belongs to customers erased meanwhile. */
export async function recordDeadLetter(deadLetters: Queue, queue: string, job: Job, err: Error, suppression: Pick<Suppression, "erasedOf">): Promise<void> {
  const erased = await erasedPart(queue, job.data, suppression);
  if (erased && erased.kept === undefined) return;
  const letter: DeadLetter = {
    queue,
    jobName: job.name,
    jobId: job.id,
    data: erased ? erased.kept : job.data,
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

/** The customers a job's data is about, by the queue it is for (raw events that do not parse name nobody). */
function customersIn(queue: string, data: unknown): string[] {
  if (queue === "clean")
    return ((data as CleanJob).events ?? []).flatMap((e) => {
      try {
        return [ownerOfStored(JSON.parse(e.json) as { userId?: unknown; anonymousId?: unknown })].filter((o): o is string => o !== undefined);
      } catch {
        return [];
      }
    });
  if (queue === "embed") return ((data as EmbedJob).items ?? []).map((item) => item.customerId);
  const customerId = (data as { customerId?: string }).customerId;
  return customerId ? [customerId] : [];
}

/**
 * Puts dead letters back on their queues as new jobs, then removes them. Events of erased
 * customers are not replayed (nor kept): a replay must not bring anyone back.
 */
export async function replayDeadLetters(deadLetters: Queue, queues: Record<string, Queue>, suppression: Pick<Suppression, "erasedOf">, ids?: string[]): Promise<ReplayResult> {
  const found = ids ? await Promise.all(ids.map((id) => deadLetters.getJob(id))) : [];
  const jobs = ids ? found.filter((j): j is Job => Boolean(j)) : await deadLetters.getJobs(["waiting", "delayed", "paused", "prioritized"], 0, -1);
  const result: ReplayResult = { replayed: 0, skipped: [], unknown: ids ? ids.filter((_, i) => !found[i]) : [] };
  for (const job of jobs) {
    const parsed = deadLetterSchema.safeParse(job.data);
    const target = parsed.success ? queues[parsed.data.queue] : undefined;
    if (!parsed.success || !target) {
      result.skipped.push({ id: String(job.id), reason: parsed.success ? `unknown queue ${parsed.data.queue}` : "not a dead letter" });
      continue;
    }
    const scrub = await erasedPart(parsed.data.queue, parsed.data.data, suppression);
    if (scrub && scrub.kept === undefined) {
      await job.remove();
      result.skipped.push({ id: String(job.id), reason: "erased customer: not replayed, removed" });
      continue;
    }
    await target.add(parsed.data.jobName, scrub ? scrub.kept : parsed.data.data, { jobId: jobIdFor(`replay-${job.id}-${Date.now()}`) });
    await job.remove();
    // The failed original is replaced by the new job (and would keep /ready's failedJobs up).
    const original = parsed.data.jobId ? await target.getJob(parsed.data.jobId) : undefined;
    if (original && (await original.isFailed())) await original.remove();
    result.replayed++;
  }
  return result;
}
