import { createHash } from "node:crypto";
import type { Queue } from "bullmq";
import { z } from "zod";
import { cleanEventSchema, type CleanEvent } from "../pipelines/clean-event";
import { jobIdFor, withEventCount } from "./job-id";

/** Events one customer's profile just took in, in the order they were applied. */
export const embedItemSchema = z.object({
  /** The customer the clean stage applied them to; the embed worker resolves it again before writing. */
  customerId: z.string().min(1),
  events: z.array(cleanEventSchema).min(1),
});
export type EmbedItem = z.infer<typeof embedItemSchema>;

/** An embed job: one clean job's hand-off, several customers' events. */
export const embedJobSchema = z.object({ items: z.array(embedItemSchema).min(1) });
export type EmbedJob = z.infer<typeof embedJobSchema>;

/**
 * The shape check the worker runs on every job. The events were validated by the clean stage
 * that wrote them; re-validating each with zod cost more than embedding it.
 */
export const embedJobShapeSchema = z.object({
  items: z.array(z.object({ customerId: z.string().min(1), events: z.array(z.object({ messageId: z.string().min(1) }).passthrough()).min(1) })).min(1),
});

export const embedJobName = "events";

/**
 * Jobs for customers' applied events, each of about `maxEvents` events, added in one call: a
 * clean job's whole hand-off is one or a few jobs, because BullMQ's per-job cost (several round
 * trips and keys) would dwarf embedding an event with the local model. The job id hashes the
 * customers and messageIds, so handing the same events over twice makes one job; points are
 * keyed by messageId anyway, so a job that does run twice changes nothing.
 */
export async function enqueueEmbeds(queue: Queue, batch: EmbedItem[], maxEvents: number): Promise<void> {
  const jobs: { name: string; data: EmbedJob; opts: { jobId: string } }[] = [];
  let items: EmbedItem[] = [];
  let size = 0;
  const close = () => {
    if (!items.length) return;
    const hash = createHash("sha1");
    for (const item of items) {
      hash.update("\0c").update(item.customerId);
      for (const e of item.events) hash.update("\0").update(e.messageId);
    }
    jobs.push({ name: embedJobName, data: { items }, opts: { jobId: jobIdFor(withEventCount(`emb-${hash.digest("base64url")}`, size)) } });
    items = [];
    size = 0;
  };
  for (const { customerId, events } of batch)
    for (let i = 0; i < events.length; i += maxEvents) {
      const chunk = events.slice(i, i + maxEvents);
      if (size + chunk.length > maxEvents) close();
      items.push({ customerId, events: chunk });
      size += chunk.length;
    }
  close();
  if (jobs.length) await queue.addBulk(jobs);
}
