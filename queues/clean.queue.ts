import { z } from "zod";

/** A clean job: events of one stream partition, in stream order (or one event being retried alone). */
export const cleanJobSchema = z.object({
  partition: z.number().int(),
  events: z.array(z.object({ messageId: z.string(), json: z.string() })),
});
export type CleanJob = z.infer<typeof cleanJobSchema>;

export const cleanJobNames = { batch: "batch", event: "event" } as const;
