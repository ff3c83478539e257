import { parseIsoTime } from "./iso-time";
import { segmentEventSchema, type EventType, type StoredEvent } from "./segment";

export type FieldError = { path: string; message: string };

export type PrepareContext = {
  receivedAtMs: number;
  /** Set by single-call routes (/v1/track ...): the call type the body must be. */
  forcedType?: EventType;
  /** A batch's top-level sentAt, context and integrations, applied to each event. */
  batchDefaults?: { sentAt?: unknown; context?: unknown; integrations?: unknown };
  maxEventBytes: number;
  futureToleranceMs: number;
  newMessageId: () => string;
};

export type Prepared =
  | { ok: true; event: StoredEvent; json: string }
  | { ok: false; messageId?: string; errors: FieldError[]; tooLarge?: boolean };

export const MAX_NESTING_DEPTH = 32;

/** Validates one raw event and resolves its ids and times; pure. */
export function prepareEvent(raw: unknown, ctx: PrepareContext): Prepared {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw))
    return { ok: false, errors: [{ path: "", message: "each event must be a JSON object" }] };

  const input = applyDefaults(raw as Record<string, unknown>, ctx);
  const claimedId = typeof input.messageId === "string" ? input.messageId : undefined;

  const depthError = findTooDeep(input);
  if (depthError) return { ok: false, messageId: claimedId, errors: [depthError] };

  const parsed = segmentEventSchema.safeParse(input);
  if (!parsed.success)
    return {
      ok: false,
      messageId: claimedId,
      errors: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
    };

  const event = parsed.data as StoredEvent;
  const flags: NonNullable<StoredEvent["_lifeline"]>["flags"] = [];
  if (!event.messageId) {
    event.messageId = ctx.newMessageId();
    flags.push("message_id_generated");
  }
  resolveTimes(event, ctx);
  if (Date.parse(event.timestamp) > ctx.receivedAtMs + ctx.futureToleranceMs) flags.push("timestamp_in_future");
  if (flags.length) event._lifeline = { flags };
  else delete event._lifeline;

  const json = JSON.stringify(event);
  if (exceedsBytes(json, ctx.maxEventBytes))
    return {
      ok: false,
      messageId: event.messageId,
      tooLarge: true,
      errors: [{ path: "", message: `event is larger than the ${ctx.maxEventBytes}-byte limit per event` }],
    };
  return { ok: true, event, json };
}

function applyDefaults(raw: Record<string, unknown>, ctx: PrepareContext): Record<string, unknown> {
  const defaults = ctx.batchDefaults;
  const input = { ...raw };
  if (ctx.forcedType) input.type = ctx.forcedType;
  if (!defaults) return input;
  if (input.sentAt === undefined && defaults.sentAt !== undefined) input.sentAt = defaults.sentAt;
  for (const field of ["context", "integrations"] as const) {
    const fromBatch = defaults[field];
    if (isPlainObject(fromBatch)) input[field] = isPlainObject(input[field]) ? { ...fromBatch, ...input[field] } : input[field] ?? fromBatch;
  }
  return input;
}

/**
 * Segment's clock-skew rule: timestamp = receivedAt − (sentAt − originalTimestamp).
 * The client's own `timestamp` is its original time; without sentAt it is kept as sent.
 */
function resolveTimes(event: StoredEvent, ctx: PrepareContext): void {
  const original = event.originalTimestamp ?? event.timestamp;
  if (original !== undefined && event.originalTimestamp === undefined) event.originalTimestamp = original;
  const receivedAt = ctx.receivedAtMs;
  let at = receivedAt;
  if (original !== undefined) {
    const originalMs = parseIsoTime(original);
    at = event.sentAt !== undefined ? receivedAt - (parseIsoTime(event.sentAt) - originalMs) : originalMs;
  }
  event.timestamp = new Date(at).toISOString();
  event.receivedAt = new Date(receivedAt).toISOString();
}

function findTooDeep(root: Record<string, unknown>): FieldError | undefined {
  const stack: Array<[unknown, number, string]> = [[root, 0, ""]];
  while (stack.length) {
    const [value, depth, path] = stack.pop()!;
    if (typeof value !== "object" || value === null) continue;
    if (depth > MAX_NESTING_DEPTH)
      return { path, message: `nested deeper than ${MAX_NESTING_DEPTH} levels` };
    if (Array.isArray(value)) value.forEach((v, i) => stack.push([v, depth + 1, path ? `${path}.${i}` : String(i)]));
    else for (const key in value) stack.push([(value as Record<string, unknown>)[key], depth + 1, path ? `${path}.${key}` : key]);
  }
  return undefined;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** UTF-8 size check that only encodes when the character count cannot decide. */
function exceedsBytes(text: string, limit: number): boolean {
  if (text.length > limit) return true;
  if (text.length * 3 <= limit) return false;
  return Buffer.byteLength(text, "utf8") > limit;
}
