import { UnrecoverableError, type Job } from "bullmq";
import { renderEventText } from "../pipelines/render-text";
import type { Embedder } from "../src/embeddings/embedder";
import type { Logger } from "../src/log/logger";
import type { MemoryPoint, MemoryStore } from "../src/memory/memory-store";
import { eventPoint } from "../src/memory/event-point";
import type { Identities } from "../src/profiles/identities";
import type { Suppression } from "../src/profiles/suppression";
import { ANONYMOUS_PREFIX, isAnonymousCustomer } from "../src/profiles/profile-store";
import { embedJobShapeSchema, type EmbedItem, type EmbedJob } from "./embed.queue";

export type EmbedDeps = {
  identities: Identities;
  suppression: Suppression;
  embedder: Embedder;
  memory: MemoryStore;
  log: Logger;
  /** Events embedded together (LIFELINE_EMBED_BATCH_SIZE). */
  batchSize: number;
  /** Longest a job waits for its batch to fill (LIFELINE_EMBED_MAX_WAIT_MS). */
  maxWaitMs: number;
  /** Times the upsert stage (metrics); runs it as is when absent. */
  timeUpsert?: <T>(fn: () => Promise<T>) => Promise<T>;
};

export type EmbedOutcome = { embedded: number; skippedErased: number };

/**
 * The embed stage: jobs from many customers are gathered into one embedding call and one upsert,
 * up to `batchSize` events or `maxWaitMs`, whichever comes first. Give the worker a concurrency
 * of about `batchSize` so enough jobs are active at once to fill a batch.
 */
export function createEmbedStage(d: EmbedDeps) {
  const batcher = microBatcher<EmbedItem, EmbedOutcome>(d.batchSize, d.maxWaitMs, (item) => item.events.length, (items) => embedAndUpsert(items, d));
  return {
    async process(job: Job<EmbedJob>): Promise<EmbedOutcome> {
      const checked = embedJobShapeSchema.safeParse(job.data);
      if (!checked.success) throw new UnrecoverableError(`embed job data is invalid: ${checked.error.message}`);
      const { items } = job.data;
      // A job that failed in a batch goes alone next time, so one bad event cannot sink its neighbours again.
      const outcomes = job.attemptsMade > 0 ? await embedAndUpsert(items, d) : await Promise.all(items.map((item) => batcher.submit(item)));
      // An erased customer's events leave this job's data too (it is kept after completion).
      if (outcomes.some((o) => o.skippedErased)) await job.updateData({ items: items.filter((_, i) => !outcomes[i]!.skippedErased) });
      return outcomes.reduce((sum, o) => ({ embedded: sum.embedded + o.embedded, skippedErased: sum.skippedErased + o.skippedErased }));
    },
    /** Embeds whatever is waiting now (used on shutdown). */
    flush: () => batcher.flush(),
  };
}

/** render → embed → upsert for a batch of customers' events; one outcome per item. */
export async function embedAndUpsert(jobs: EmbedItem[], d: EmbedDeps): Promise<EmbedOutcome[]> {
  const owners = await Promise.all(jobs.map((j) => currentCustomer(j.customerId, d.identities)));
  const erased = await d.suppression.erasedOf(owners);
  const work = jobs.flatMap((job, i) => (erased.has(owners[i]!) ? [] : job.events.map((event) => ({ customerId: owners[i]!, event }))));
  if (work.length) {
    const texts = work.map((w) => renderEventText(w.event));
    const vectors = await d.embedder.embed(texts);
    const points: MemoryPoint[] = work.map(({ customerId, event }, i) => eventPoint(customerId, event, texts[i]!, vectors[i]!));
    await (d.timeUpsert ? d.timeUpsert(() => d.memory.upsert(points)) : d.memory.upsert(points));
    await settleAfterUpsert([...new Set(work.map((w) => w.customerId))], d);
    d.log.debug({ points: points.length, jobs: jobs.length }, "embedded batch");
  }
  return jobs.map((job, i) => (erased.has(owners[i]!) ? { embedded: 0, skippedErased: job.events.length } : { embedded: job.events.length, skippedErased: 0 }));
}

/**
 * Closes two races with the upsert we just made, both of which would otherwise leave points under
 * the wrong customer: an identify that linked this visitor meanwhile (its merge moved the visitor's
 * points before ours landed), and an erasure that deleted the customer's memory before ours landed.
 * Either writer that comes later does the move or delete itself, so checking after writing suffices.
 */
async function settleAfterUpsert(customerIds: string[], d: EmbedDeps): Promise<void> {
  const owners = await Promise.all(customerIds.map((id) => currentCustomer(id, d.identities)));
  for (const [i, customerId] of customerIds.entries()) if (owners[i] !== customerId) await d.memory.reassignCustomer(customerId, owners[i]!);
  const erased = await d.suppression.erasedOf([...customerIds, ...owners]);
  for (const id of erased) await d.memory.deleteCustomer(id);
}

/** A visitor's events belong to the customer its anonymousId has been linked to, if any. */
function currentCustomer(customerId: string, identities: Identities): Promise<string> {
  if (!isAnonymousCustomer(customerId)) return Promise.resolve(customerId);
  return identities.customerOf({ anonymousId: customerId.slice(ANONYMOUS_PREFIX.length) });
}


type Pending<T, R> = { item: T; resolve: (r: R) => void; reject: (e: unknown) => void };

/**
 * Gathers items submitted separately into batches of about `maxSize` (by `sizeOf`) or `maxWaitMs`;
 * each submitter gets its own item's result, or the batch's error.
 */
export function microBatcher<T, R>(maxSize: number, maxWaitMs: number, sizeOf: (item: T) => number, run: (items: T[]) => Promise<R[]>) {
  let pending: Pending<T, R>[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  async function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    const batch = pending;
    pending = [];
    size = 0;
    if (batch.length === 0) return;
    try {
      const results = await run(batch.map((p) => p.item));
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }

  return {
    submit(item: T): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        pending.push({ item, resolve, reject });
        size += sizeOf(item);
        if (size >= maxSize) void flush();
        else timer ??= setTimeout(() => void flush(), maxWaitMs);
      });
    },
    flush,
  };
}
