import type { Job, JobType, Queue } from "bullmq";
import type { ErasedMatcher } from "../src/profiles/erased-matcher";
import type { RedisClient } from "../src/redis/connection";
import type { CleanJob } from "./clean.queue";
import { deadLetterSchema, type DeadLetter } from "./dead-letter";
import type { LifelineQueues } from "./open-queues";
import { scrubJobData, type Scrubbed } from "./scrub-job-data";

const EVERY_STATE: JobType[] = ["waiting", "delayed", "paused", "prioritized", "waiting-children", "active", "completed", "failed"];
const PAGE = 200;

/** Every job of a queue, any state, page by page. */
async function* everyJob(queue: Queue): AsyncGenerator<Job> {
  for (let start = 0; ; start += PAGE) {
    const jobs = (await queue.getJobs(EVERY_STATE, start, start + PAGE - 1)).filter(Boolean);
    yield* jobs;
    if (jobs.length < PAGE) return;
  }
}

/** Removes a job, or empties its data when a worker holds it (a locked job cannot be removed). */
async function removeOrEmpty(job: Job, empty: unknown): Promise<void> {
  try {
    await job.remove();
  } catch {
    await job.updateData(empty);
  }
}

export type JobScrub = { jobs: number; events: number; deadLetters: number };

/**
 * Erasure in the queues: erased customers' events leave clean and embed jobs (waiting, running,
 * finished or failed), their score jobs go (with the insight they returned, and the queue events
 * that carried it), and dead letters keep nothing of theirs.
 */
export async function scrubQueues(redis: RedisClient, queues: Pick<LifelineQueues, "clean" | "embed" | "inference" | "dead-letter">, erased: ErasedMatcher): Promise<JobScrub> {
  const result: JobScrub = { jobs: 0, events: 0, deadLetters: 0 };
  for (const [name, queue] of [["clean", queues.clean], ["embed", queues.embed], ["inference", queues.inference]] as const) {
    const touched: { job: Job; scrub: Scrubbed }[] = [];
    for await (const job of everyJob(queue)) {
      const scrub = scrubJobData(name, job.data, erased);
      if (scrub) touched.push({ job, scrub });
    }
    for (const { job, scrub } of touched) {
      if (scrub.kept === undefined) await removeOrEmpty(job, name === "clean" ? { ...(job.data as CleanJob), events: [] } : name === "embed" ? { items: [] } : { erased: true });
      else await job.updateData(scrub.kept);
      result.jobs++;
      result.events += scrub.removed;
    }
    if (name === "inference") await dropQueueEvents(redis, queue, new Set(touched.map((t) => String(t.job.id))));
  }
  const letters: Job[] = [];
  for await (const job of everyJob(queues["dead-letter"])) letters.push(job);
  for (const job of letters) {
    const letter = deadLetterSchema.safeParse(job.data);
    if (!letter.success) continue;
    const scrub = scrubJobData(letter.data.queue, letter.data.data, erased);
    // A reason or stack that names them (e.g. "no customer …") cannot be kept either.
    const namesThem = erased.mentions(`${letter.data.reason}\n${letter.data.stack ?? ""}`);
    if (!scrub && !namesThem) continue;
    if (namesThem || scrub?.kept === undefined) await job.remove();
    else await job.updateData({ ...letter.data, data: scrub.kept } satisfies DeadLetter);
    result.deadLetters++;
    result.events += scrub?.removed ?? 0;
  }
  return result;
}

/** BullMQ's events stream of a queue repeats what jobs returned ("completed" with the insight): drop those of the given jobs. */
async function dropQueueEvents(redis: RedisClient, queue: Queue, jobIds: Set<string>): Promise<void> {
  if (!jobIds.size) return;
  const stream = queue.keys.events!;
  for (let start = "-"; ; ) {
    const entries = (await redis.xrange(stream, start, "+", "COUNT", 1000)) as [string, string[]][];
    const doomed = entries.filter(([, fields]) => jobIds.has(fields[fields.indexOf("jobId") + 1] ?? ""));
    if (doomed.length) await redis.xdel(stream, ...doomed.map(([id]) => id));
    if (entries.length < 1000) return;
    start = `(${entries.at(-1)![0]}`;
  }
}
