import type { Job, Queue } from "bullmq";
import { cleanEvent, type CleanEvent } from "../pipelines/clean-event";
import type { EventVocabulary } from "../pipelines/event-names";
import type { StageRules } from "../pipelines/lifecycle-stage";
import type { StoredEvent } from "../pipelines/segment";
import type { Logger } from "../src/log/logger";
import type { Identities } from "../src/profiles/identities";
import type { ProfileStore } from "../src/profiles/profile-store";
import type { RedisClient } from "../src/redis/connection";
import { cleanJobNames, cleanJobSchema, type CleanJob } from "./clean.queue";
import { jobIdFor } from "./job-id";

import type { Profile } from "../pipelines/profile";

/**
 * The events each customer's profile took in during one job: `events` also holds redeliveries
 * (later stages are idempotent), `applied` only those new to the profile, and `profile` is the
 * profile after them.
 */
export type AppliedBatch = { customerId: string; events: CleanEvent[]; applied: CleanEvent[]; profile: Profile }[];

/** Told, once per job, which events the profiles took in, e.g. to embed them. */
export type AppliedListener = (batch: AppliedBatch) => Promise<void>;

export type CleanDeps = {
  redis: RedisClient;
  droppedKey: string;
  cleanQueue: Queue;
  profiles: ProfileStore;
  identities: Identities;
  vocabulary: EventVocabulary;
  rules: StageRules;
  log: Logger;
  onApplied: AppliedListener[];
};

const DROPPED_KEPT = 10_000;

/** clean → stitch → profile, for one job of events. */
export async function processClean(job: Job<CleanJob>, d: CleanDeps): Promise<{ applied: number; dropped: number; isolated: number }> {
  const { events } = cleanJobSchema.parse(job.data);
  const cleaned: CleanEvent[] = [];
  const dropped: { messageId: string; reason: string }[] = [];
  const poison: CleanJob["events"] = [];

  for (const raw of events) {
    try {
      const result = cleanEvent(JSON.parse(raw.json) as StoredEvent, d.vocabulary, { rules: d.rules, hasPurchasedBefore: false });
      if (result.ok) cleaned.push(result.event);
      else dropped.push({ messageId: raw.messageId, reason: result.reason });
    } catch (err) {
      // A job of one event rethrows: BullMQ retries it and dead-letters it in the end.
      if (job.name === cleanJobNames.event) throw err;
      poison.push(raw);
    }
  }

  // One bad event must not hold back its batch: retry it alone.
  if (poison.length)
    await d.cleanQueue.addBulk(
      poison.map((raw) => ({
        name: cleanJobNames.event,
        data: { partition: job.data.partition, events: [raw] },
        opts: { jobId: jobIdFor(`ev-${raw.messageId}`) },
      })),
    );
  if (dropped.length) await recordDropped(d, dropped);

  for (const e of cleaned) {
    const linkedFrom = e.type === "alias" ? (e.properties.previousId as string | undefined) : e.anonymousId;
    if (e.userId && linkedFrom) await d.identities.link(linkedFrom, e.userId);
  }

  const byCustomer = new Map<string, CleanEvent[]>();
  for (const e of cleaned) {
    const customerId = await d.identities.customerOf(e);
    const list = byCustomer.get(customerId);
    if (list) list.push(e);
    else byCustomer.set(customerId, [e]);
  }
  let applied = 0;
  const handOff: AppliedBatch = [];
  await Promise.all(
    [...byCustomer].map(async ([customerId, list]) => {
      const result = await d.profiles.apply(customerId, list);
      applied += result.applied.length;
      await d.identities.settle(customerId);
      const events = [...result.applied, ...result.seenBefore];
      if (events.length) handOff.push({ customerId, events, applied: result.applied, profile: result.profile });
    }),
  );
  if (handOff.length) for (const listener of d.onApplied) await listener(handOff);
  return { applied, dropped: dropped.length, isolated: poison.length };
}

async function recordDropped(d: CleanDeps, dropped: { messageId: string; reason: string }[]) {
  const at = new Date().toISOString();
  for (const item of dropped) d.log.warn(item, "event dropped by the clean stage");
  await d.redis
    .multi()
    .lpush(d.droppedKey, ...dropped.map((x) => JSON.stringify({ ...x, at })))
    .ltrim(d.droppedKey, 0, DROPPED_KEPT - 1)
    .exec();
}
