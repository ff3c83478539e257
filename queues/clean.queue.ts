import { z } from "zod";

/** A clean job: events of one stream partition, in stream order (or one event being retried alone). */
export const cleanJobSchema = z.object({
  partition: z.number().int(),
  events: z.array(z.object({ messageId: z.string(), json: z.string() })),
  /** First and last stream entry the events came from (to scrub them there after an erasure). */
  range: z.tuple([z.string(), z.string()]).optional(),
});
export type CleanJob = z.infer<typeof cleanJobSchema>;

export const cleanJobNames = { batch: "batch", event: "event" } as const;
