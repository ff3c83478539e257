import { z } from "zod";
import { isIsoTime } from "./iso-time";

/** The Segment Tracking API calls Lifeline accepts. */
export const eventTypes = ["track", "identify", "page", "screen", "group", "alias"] as const;
export type EventType = (typeof eventTypes)[number];

const MAX_ID_LENGTH = 256;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/** Text that can name a customer, a device or an event: what ingest stores and what lookups accept. */
export const idTextSchema = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(MAX_ID_LENGTH, `must be at most ${MAX_ID_LENGTH} characters`)
  .refine((v) => !CONTROL_CHARS.test(v), "must not contain control characters")
  // A lone surrogate cannot be written as UTF-8: Redis and SQLite would store a different id.
  .refine((v) => v.isWellFormed(), "must be valid Unicode text (no lone surrogates)");

/** Segment ids are strings; numeric ids (sent by some SDKs) are kept as their decimal text. */
const identifier = z
  .union([z.string(), z.number().finite()])
  .transform((v) => String(v))
  .pipe(idTextSchema);

const isoTime = z
  .string({ error: "must be an ISO-8601 date-time string (epoch numbers are not accepted)" })
  .refine(isIsoTime, "must be an ISO-8601 date-time, e.g. 2024-05-01T12:00:00.000Z");

const dictionary = z.record(z.string(), z.unknown(), { error: "must be an object" });

const envelope = z.looseObject({
  messageId: identifier.optional(),
  userId: identifier.optional().nullable(),
  anonymousId: identifier.optional().nullable(),
  timestamp: isoTime.optional(),
  originalTimestamp: isoTime.optional(),
  sentAt: isoTime.optional(),
  context: dictionary.optional(),
  integrations: dictionary.optional(),
});

const trackSchema = envelope.extend({
  type: z.literal("track"),
  event: z.string({ error: "is required on track calls" }).trim().min(1, "must not be empty").max(MAX_ID_LENGTH),
  properties: dictionary.optional(),
});
const identifySchema = envelope.extend({ type: z.literal("identify"), traits: dictionary.optional() });
const pageSchema = envelope.extend({
  type: z.literal("page"),
  name: z.string().max(MAX_ID_LENGTH).optional().nullable(),
  category: z.string().max(MAX_ID_LENGTH).optional().nullable(),
  properties: dictionary.optional(),
});
const screenSchema = pageSchema.extend({ type: z.literal("screen") });
const groupSchema = envelope.extend({
  type: z.literal("group"),
  groupId: identifier,
  traits: dictionary.optional(),
});
const aliasSchema = envelope.extend({
  type: z.literal("alias"),
  userId: identifier,
  previousId: identifier,
});

export const segmentEventSchema = z
  .discriminatedUnion("type", [trackSchema, identifySchema, pageSchema, screenSchema, groupSchema, aliasSchema], {
    error: `must be one of ${eventTypes.join(", ")}`,
  })
  .refine((e) => Boolean(e.userId || e.anonymousId), {
    path: ["userId"],
    message: "userId or anonymousId is required",
  });

export type SegmentEvent = z.infer<typeof segmentEventSchema>;

/** What Lifeline adds to every accepted event. */
export const lifelineMetaSchema = z.object({
  flags: z.array(z.enum(["timestamp_in_future", "message_id_generated"])),
});

/** An accepted event as it sits in the stream: times resolved, messageId always present. */
export type StoredEvent = SegmentEvent & {
  messageId: string;
  timestamp: string;
  receivedAt: string;
  _lifeline?: z.infer<typeof lifelineMetaSchema>;
};

/** Events of one customer share a partition key so they stay in order. */
export const partitionKey = (e: Pick<SegmentEvent, "userId" | "anonymousId">): string =>
  (e.userId || e.anonymousId) as string;
