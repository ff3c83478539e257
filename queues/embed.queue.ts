import { createHash } from "node:crypto";
import type { Queue } from "bullmq";
import { z } from "zod";
import { cleanEventSchema, type CleanEvent } from "../pipelines/clean-event";
import { jobIdFor } from "./job-id";

/** An embed job: events one customer's profile just took in, in the order they were applied. */
export const embedJobSchema = z.object({
  /** The customer the clean stage applied them to; the embed worker resolves it again before writing. */
  customerId: z.string().min(1),
  events: z.array(cleanEventSchema).min(1),
});
export type EmbedJob = z.infer<typeof embedJobSchema>;

export const embedJobName = "events";

/**
 * Jobs for customers' applied events: chunks of at most `maxEvents`, added in one call.
 * A job holds a chunk rather than one event because BullMQ's per-job cost (several round trips
 * and keys) would dwarf embedding an event with the local model. The job id hashes the customer
 * and messageIds, so handing the same events over twice makes one job; points are keyed by
 * messageId anyway, so a job that does run twice changes nothing.
 */
export async function enqueueEmbeds(queue: Queue, batch: { customerId: string; events: CleanEvent[] }[], maxEvents: number): Promise<void> {
  const jobs = [];
  for (const { customerId, events } of batch)
    for (let i = 0; i < events.length; i += maxEvents) {
      const chunk = events.slice(i, i + maxEvents);
      const hash = createHash("sha1").update(customerId);
      for (const e of chunk) hash.update("\0").update(e.messageId);
      const data: EmbedJob = { customerId, events: chunk };
      jobs.push({ name: embedJobName, data, opts: { jobId: jobIdFor(`emb-${hash.digest("base64url")}`) } });
    }
  if (jobs.length) await queue.addBulk(jobs);
}
