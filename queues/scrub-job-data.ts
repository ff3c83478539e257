import type { ErasedMatcher } from "../src/profiles/erased-matcher";
import type { CleanJob } from "./clean.queue";
import type { EmbedJob } from "./embed.queue";

/** One job's data without erased customers' events: `kept` undefined when nothing of the data is left. */
export type Scrubbed = { kept: unknown; removed: number };

/** What of a job's data belongs to erased customers, by the queue it is for; undefined when nothing does. */
export function scrubJobData(queue: string, data: unknown, erased: ErasedMatcher): Scrubbed | undefined {
  if (queue === "clean") {
    const job = data as CleanJob;
    const events = (job.events ?? []).filter((e) => !erased.ownsStored(e.json));
    const removed = (job.events?.length ?? 0) - events.length;
    return removed ? { kept: events.length ? { ...job, events } : undefined, removed } : undefined;
  }
  if (queue === "embed") {
    const items = ((data as EmbedJob).items ?? []).filter((item) => !erased.has(item.customerId));
    const removed = ((data as EmbedJob).items ?? []).filter((item) => erased.has(item.customerId)).reduce((n, item) => n + item.events.length, 0);
    return removed ? { kept: items.length ? { items } : undefined, removed } : undefined;
  }
  if (queue === "inference") {
    const customerId = (data as { customerId?: string }).customerId;
    return customerId && erased.has(customerId) ? { kept: undefined, removed: 1 } : undefined;
  }
  return undefined;
}
