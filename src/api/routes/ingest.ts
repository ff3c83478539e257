import { Elysia } from "elysia";
import { prepareEvent, type FieldError, type PrepareContext } from "../../../pipelines/prepare-event";
import { eventTypes, type EventType } from "../../../pipelines/segment";
import type { Appendable } from "../../streams/event-log";
import { InvalidRequestError, PayloadTooLargeError } from "../../errors";
import { authorize, presentedKey } from "../auth";
import { ingestEventCount } from "../rate-limit";
import { readJsonBody } from "../read-json-body";
import type { AppDeps } from "../deps";

/** messageId: the event's own, null when it carried none (one is made up only for accepted events). */
export type Rejection = { index: number; messageId: string | null; errors: FieldError[] };
export type IngestResult = { accepted: number; duplicates: number; rejected: Rejection[] };

export function ingestRoutes(deps: AppDeps) {
  const { config, eventLog, keys } = deps;

  async function ingest(rawEvents: unknown[], ctx: Omit<PrepareContext, "receivedAtMs" | "maxEventBytes" | "futureToleranceMs" | "newMessageId">) {
    if (rawEvents.length === 0) throw new InvalidRequestError("no events: send at least one event");
    if (rawEvents.length > config.LIFELINE_MAX_BATCH_EVENTS)
      throw new PayloadTooLargeError(`a request may carry at most ${config.LIFELINE_MAX_BATCH_EVENTS} events (got ${rawEvents.length})`, {
        details: { limitEvents: config.LIFELINE_MAX_BATCH_EVENTS },
      });
    const full: PrepareContext = {
      ...ctx,
      receivedAtMs: Date.now(),
      maxEventBytes: config.LIFELINE_MAX_EVENT_BYTES,
      futureToleranceMs: config.LIFELINE_FUTURE_TOLERANCE_HOURS * 3_600_000,
      newMessageId: () => crypto.randomUUID(),
    };
    const rejected: Rejection[] = [];
    const good: Appendable[] = [];
    let oversize = 0;
    rawEvents.forEach((raw, index) => {
      const prepared = prepareEvent(raw, full);
      if (prepared.ok) good.push({ event: prepared.event, json: prepared.json });
      else {
        if (prepared.tooLarge) oversize++;
        rejected.push({ index, messageId: prepared.messageId ?? null, errors: prepared.errors });
      }
    });
    const appended = good.length ? await eventLog.append(good) : [];
    const accepted = appended.filter(Boolean).length;
    const result: IngestResult = { accepted, duplicates: appended.length - accepted, rejected };
    deps.metrics.ingested({ accepted, duplicates: result.duplicates, invalid: rejected.length - oversize, tooLarge: oversize });
    const status = rejected.length < rawEvents.length ? 200 : oversize === rejected.length ? 413 : 400;
    return { status, result };
  }

  const respond = (set: { status?: number | string }, outcome: { status: number; result: IngestResult }) => {
    set.status = outcome.status;
    return outcome.status === 200 ? outcome.result : { error: outcome.status === 413 ? "PAYLOAD_TOO_LARGE" : "INVALID_EVENT", ...outcome.result };
  };

  const readBody = async (request: Request) => {
    authorize(deps.keyRing, request.headers, "write");
    const body = await readJsonBody(request, config.LIFELINE_MAX_BODY_BYTES);
    // Charged per event and before anything is appended: a 429 loses no accepted event.
    await deps.rateLimiter.charge(presentedKey(request.headers)!, "write", ingestEventCount(body));
    return body;
  };

  const app = new Elysia({ name: "ingest" })
    .post(
      "/events",
      async ({ request, set }) => {
        const body = await readBody(request);
        return respond(set, await ingest(Array.isArray(body) ? body : [body], {}));
      },
      { parse: "none", detail: { summary: "Ingest one Segment event or an array of them", tags: ["ingest"] } },
    )
    .post(
      "/v1/batch",
      async ({ request, set }) => {
        const body = await readBody(request);
        if (typeof body !== "object" || body === null || !Array.isArray((body as { batch?: unknown }).batch))
          throw new InvalidRequestError("body must be an object with a `batch` array", { details: { path: "batch" } });
        const { batch, sentAt, context, integrations } = body as { batch: unknown[]; sentAt?: unknown; context?: unknown; integrations?: unknown };
        return respond(set, await ingest(batch, { batchDefaults: { sentAt, context, integrations } }));
      },
      { parse: "none", detail: { summary: "Segment batch: {batch:[...], sentAt?, context?, integrations?}", tags: ["ingest"] } },
    );

  for (const type of eventTypes)
    app.post(
      `/v1/${type}`,
      async ({ request, set }) => {
        const body = await readBody(request);
        if (Array.isArray(body)) throw new InvalidRequestError(`/v1/${type} takes one event object; use /v1/batch for several`);
        return respond(set, await ingest([body], { forcedType: type as EventType }));
      },
      { parse: "none", detail: { summary: `Segment ${type} call`, tags: ["ingest"] } },
    );
  return app;
}
