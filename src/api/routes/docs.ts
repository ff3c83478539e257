import { openapi } from "@elysiajs/openapi";
import { Elysia } from "elysia";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { eventTypes, segmentEventSchema, type EventType } from "../../../pipelines/segment";

// The ingest routes read their bodies themselves (parse: "none": gzip, size limits, per-event
// verdicts), so Elysia knows no body schema for them. Their documentation is written here from
// the same zod schemas that validate events.
const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;

const optionOf = (type: EventType) => segmentEventSchema.options.find((o) => o.shape.type.value === type) as unknown as z.ZodObject;

const examples: Record<EventType, Record<string, unknown>> = {
  track: { type: "track", userId: "u-123", event: "Order Completed", messageId: "m-1", timestamp: "2024-05-01T12:00:00.000Z", properties: { revenue: 42.5, currency: "EUR" } },
  identify: { type: "identify", userId: "u-123", anonymousId: "anon-9", traits: { email: "ada@example.com", plan: "pro" } },
  page: { type: "page", anonymousId: "anon-9", name: "Pricing", properties: { url: "https://example.com/pricing" } },
  screen: { type: "screen", userId: "u-123", name: "Checkout" },
  group: { type: "group", userId: "u-123", groupId: "acme", traits: { employees: 40 } },
  alias: { type: "alias", userId: "u-123", previousId: "anon-9" },
};

const resultSchema = {
  type: "object",
  properties: {
    accepted: { type: "integer", description: "events now in Redis" },
    duplicates: { type: "integer", description: "events whose messageId was already accepted within the dedup window" },
    rejected: {
      type: "array",
      items: {
        type: "object",
        required: ["index", "messageId", "errors"],
        properties: { index: { type: "integer" }, messageId: { type: ["string", "null"], description: "the event's own; null when it carried none" }, errors: { type: "array", items: { type: "object", properties: { path: { type: "string" }, message: { type: "string" } } } } },
      },
    },
  },
};

const ingestResponses = {
  200: { description: "at least one event accepted; rejected ones are listed by index", content: { "application/json": { schema: resultSchema, example: { accepted: 1, duplicates: 0, rejected: [] } } } },
  400: { description: "every event was invalid (or the body is not JSON)" },
  401: { description: "no write key, or an unknown one" },
  403: { description: "a key of another role" },
  413: { description: "body or every event too large, or too many events" },
  429: { description: "the write key is over LIFELINE_RATE_LIMIT_EVENTS_PER_SEC; see Retry-After. Nothing of the request was stored." },
  503: { description: "Redis is unavailable; retry (Retry-After)" },
};

const writeSecurity = [{ bearer: [] }, { basic: [] }, { writeKey: [] }];

function ingestPath(summary: string, schema: Record<string, unknown>, example: unknown) {
  return {
    post: {
      summary,
      tags: ["ingest"],
      security: writeSecurity,
      requestBody: { required: true, content: { "application/json": { schema, example } } },
      responses: ingestResponses,
    },
  };
}

function ingestPaths() {
  const event = jsonSchema(segmentEventSchema);
  const paths: Record<string, unknown> = {
    "/events": ingestPath("Ingest one Segment event or an array of them", { oneOf: [event, { type: "array", items: event }] }, [examples.track, examples.identify]),
    "/v1/batch": ingestPath(
      "Segment batch: {batch:[…], sentAt?, context?, integrations?}; batch-level fields fill in missing event fields",
      { type: "object", required: ["batch"], properties: { batch: { type: "array", items: event }, sentAt: { type: "string", format: "date-time" }, context: { type: "object" }, integrations: { type: "object" } } },
      { batch: [examples.track, examples.page], sentAt: "2024-05-01T12:00:01.000Z" },
    ),
  };
  for (const type of eventTypes) {
    const { type: _omit, ...example } = examples[type];
    paths[`/v1/${type}`] = ingestPath(`Segment ${type} call (the type is implied by the path)`, jsonSchema(optionOf(type).omit({ type: true })), example);
  }
  return paths;
}

// The reference UI comes from the pinned swagger-ui-dist package and is served by the API
// itself, so /docs works behind a firewall (nothing is fetched from a CDN).
const swaggerUiDir = dirname(Bun.resolveSync("swagger-ui-dist/package.json", import.meta.dir));
const swaggerUiVersion = (JSON.parse(readFileSync(join(swaggerUiDir, "package.json"), "utf8")) as { version: string }).version;
const ASSETS = "/docs/assets";
const assetTypes: Record<string, string> = {
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
};

function docsAssets() {
  // The version in the path lets browsers keep the files for a long time.
  return new Elysia().get(`${ASSETS}/${swaggerUiVersion}/:file`, ({ params, status }) => {
    const type = assetTypes[params.file];
    if (!type) return status(404, { error: "not_found", message: `no docs asset ${params.file}` });
    return new Response(Bun.file(join(swaggerUiDir, params.file)), {
      headers: { "content-type": type, "cache-control": "public, max-age=31536000, immutable" },
    });
  }, { detail: { hide: true } });
}

/** OpenAPI document at /docs/json and a reference UI at /docs. */
export function docsRoutes() {
  return new Elysia().use(docsAssets()).use(openApiRoutes());
}

function openApiRoutes() {
  return openapi({
    path: "/docs",
    specPath: "/docs/json",
    provider: "swagger-ui",
    swagger: {
      version: swaggerUiVersion,
      cdn: `${ASSETS}/${swaggerUiVersion}/swagger-ui-bundle.js`,
      theme: `${ASSETS}/${swaggerUiVersion}/swagger-ui.css`,
    },
    mapJsonSchema: { zod: (schema: z.ZodType) => jsonSchema(schema) },
    exclude: { paths: [/^\/admin\/queues\/\*/] },
    documentation: {
      info: {
        title: "Lifeline API",
        version: "0.1.0",
        description:
          "Segment-compatible ingest, customer memory and churn insight. Write keys ingest (Bearer, Basic user or X-Write-Key); read keys read; admin keys erase, replay and see the queue dashboard. Roles do not nest.",
      },
      tags: [
        { name: "ingest", description: "Segment Tracking API calls (write key)" },
        { name: "clients", description: "Profiles, memory and insight (read key)" },
        { name: "admin", description: "Erasure, dashboard, dead letters (admin key)" },
        { name: "ops", description: "Health, readiness, metrics (no key)" },
      ],
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", description: "Authorization: Bearer <key>" },
          basic: { type: "http", scheme: "basic", description: "the key as user name (Segment SDKs); admin: user name or password" },
          writeKey: { type: "apiKey", in: "header", name: "X-Write-Key" },
          adminSession: { type: "apiKey", in: "cookie", name: "lifeline_admin", description: "set by POST /admin/login" },
        },
      },
      paths: ingestPaths() as never,
    },
  });
}
