import { Elysia } from "elysia";
import { z } from "zod";
import { deadLetterSchema, replayDeadLetters } from "../../../queues/dead-letter";
import { idTextSchema } from "../../../pipelines/segment";
import { ANONYMOUS_PREFIX } from "../../profiles/profile-store";
import { ForbiddenError, InvalidJsonError, InvalidRequestError, PayloadTooLargeError, UnauthorizedError } from "../../errors";
import { ADMIN_COOKIE, authorizeAdmin } from "../admin-auth";
import { queueDashboard, DASHBOARD_PATH } from "../dashboard";
import type { AppDeps } from "../deps";
import { readBodyText } from "../read-json-body";

export const liftRequestSchema = z.strictObject({
  /** userIds or anonymousIds of erased customers who may come back. */
  ids: z.array(idTextSchema).min(1).max(10_000),
});

export const replayRequestSchema = z.object({
  /** Dead-letter job ids; all dead letters when absent. */
  ids: z.array(z.string().min(1)).max(10_000).optional(),
});

const MAX_LOGIN_BODY_BYTES = 4_096;

const page = (title: string, body: string, status: number, headers: Record<string, string> = {}) =>
  new Response(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>` +
      `<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}input,button{font:inherit;padding:.5rem;width:100%;box-sizing:border-box;margin:.3rem 0}.error{color:#b00020}</style></head><body>${body}</body></html>`,
    { status, headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-store", ...headers } },
  );

const loginForm = (message?: string) =>
  `<h1>Lifeline admin</h1>${message ? `<p class="error" role="alert">${message}</p>` : ""}` +
  `<form method="post" action="/admin/login"><label for="key">Admin key</label>` +
  `<input id="key" name="key" type="password" autocomplete="current-password" required autofocus><button type="submit">Log in</button></form>`;

/** `key` of a JSON login body; a body that is not a JSON object is a 400 naming the shape. */
function jsonKey(text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text || "{}");
  } catch {
    throw new InvalidJsonError('request body is not valid JSON; send {"key": "<admin key>"} or a form field `key`');
  }
  const key = typeof parsed === "object" && parsed !== null ? (parsed as { key?: unknown }).key : undefined;
  return typeof key === "string" ? key : "";
}

const isSecure = (request: Request) => new URL(request.url).protocol === "https:" || request.headers.get("x-forwarded-proto") === "https";

/** Queue dashboard, dashboard login, dead-letter list and replay. Admin keys only. */
export function adminRoutes(deps: AppDeps) {
  const board = queueDashboard(deps.queues);
  const admin = (request: Request) => authorizeAdmin(deps.keyRing, deps.adminSessions, request.headers);
  const { clean, embed, inference } = deps.queues;
  const replayTargets = { clean, embed, inference };

  async function dashboard({ request }: { request: Request }): Promise<Response> {
    const isApi = new URL(request.url).pathname.startsWith(`${DASHBOARD_PATH}/api/`);
    try {
      admin(request);
    } catch (err) {
      // The dashboard's own API calls get JSON; a browser navigating gets a page and a Basic prompt.
      if (isApi || !(err instanceof UnauthorizedError || err instanceof ForbiddenError)) throw err;
      const status = err instanceof UnauthorizedError ? 401 : 403;
      return page("Lifeline admin", `${loginForm(err.message)}<p>Or send the admin key with Basic auth (as user name or password).</p>`, status,
        status === 401 ? { "www-authenticate": 'Basic realm="Lifeline admin", charset="UTF-8"' } : {});
    }
    return (await board()).handle(request);
  }
  const hidden = { parse: "none" as const, detail: { hide: true } };

  return new Elysia({ name: "admin" })
    .get(DASHBOARD_PATH, dashboard, { parse: "none", detail: { summary: "Queue dashboard (bull-board): admin key via Bearer, Basic auth or the /admin/login session", tags: ["admin"], security: [{ bearer: [] }, { basic: [] }, { adminSession: [] }] } })
    .all(`${DASHBOARD_PATH}/*`, dashboard, hidden)
    .get("/admin/login", () => page("Lifeline admin: log in", loginForm(), 200), { detail: { summary: "Login form for the queue dashboard", tags: ["admin"] } })
    .post(
      "/admin/login",
      async ({ request }) => {
        const text = await readBodyText(request, MAX_LOGIN_BODY_BYTES).catch((err: unknown) => {
          if (err instanceof PayloadTooLargeError) return undefined;
          throw err;
        });
        if (text === undefined) return page("Lifeline admin: log in", loginForm("request too large"), 413);
        const key = (request.headers.get("content-type") ?? "").includes("json") ? jsonKey(text) : (new URLSearchParams(text).get("key") ?? "");
        if (deps.keyRing.roleOf(key.trim()) !== "admin") return page("Lifeline admin: log in", loginForm("That is not an admin key."), 401);
        const cookie = [
          `${ADMIN_COOKIE}=${deps.adminSessions.issue(key.trim())}`,
          "Path=/admin",
          "HttpOnly",
          "SameSite=Strict",
          `Max-Age=${deps.adminSessions.maxAgeSeconds}`,
          ...(isSecure(request) ? ["Secure"] : []),
        ].join("; ");
        return new Response(null, { status: 303, headers: { location: DASHBOARD_PATH, "set-cookie": cookie, "cache-control": "no-store" } });
      },
      {
        parse: "none",
        detail: {
          summary: "Log in to the dashboard: form field `key` (or JSON {key}); sets an HttpOnly session cookie and redirects to /admin/queues",
          tags: ["admin"],
          requestBody: { content: { "application/x-www-form-urlencoded": { schema: { type: "object", properties: { key: { type: "string" } }, required: ["key"] }, example: { key: "ak_…" } } } },
          responses: { 303: { description: "logged in; cookie set" }, 401: { description: "not an admin key" } },
        },
      },
    )
    .post(
      "/admin/logout",
      () =>
        new Response(null, {
          status: 303,
          headers: { location: "/admin/login", "set-cookie": `${ADMIN_COOKIE}=; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=0` },
        }),
      { detail: { summary: "End the dashboard session", tags: ["admin"] } },
    )
    .get(
      "/admin/dead-letters",
      async ({ request }) => {
        admin(request);
        const jobs = await deps.queues["dead-letter"].getJobs(["waiting", "delayed", "paused", "prioritized"], 0, 999);
        return {
          deadLetters: jobs.map((job) => {
            const letter = deadLetterSchema.safeParse(job.data);
            return letter.success
              ? { id: job.id, queue: letter.data.queue, jobName: letter.data.jobName, reason: letter.data.reason, attemptsMade: letter.data.attemptsMade, failedAt: letter.data.failedAt }
              : { id: job.id, queue: "unknown", reason: "not a dead letter" };
          }),
        };
      },
      {
        detail: {
          summary: "The first 1000 dead letters, with the reason each job failed",
          tags: ["admin"],
          security: [{ bearer: [] }],
          responses: { 200: { description: "dead letters", content: { "application/json": { example: { deadLetters: [{ id: "dl-clean-42", queue: "clean", jobName: "event", reason: "Unexpected token", attemptsMade: 5, failedAt: "2024-05-01T10:00:00.000Z" }] } } } } },
        },
      },
    )
    .post(
      "/admin/dead-letters/replay",
      async ({ request }) => {
        admin(request);
        // No body means "all"; a body that does not parse is refused, never read as "all".
        const text = await readBodyText(request, deps.config.LIFELINE_MAX_BODY_BYTES);
        let raw: unknown = {};
        try {
          if (text.trim()) raw = JSON.parse(text);
        } catch {
          throw new InvalidJsonError("request body is not valid JSON; send {} or {\"ids\": [...]}");
        }
        const parsed = replayRequestSchema.safeParse(raw);
        if (!parsed.success) throw new InvalidRequestError(`ids: ${parsed.error.issues[0]?.message ?? "invalid"}`, { details: { path: "ids" } });
        return replayDeadLetters(deps.queues["dead-letter"], replayTargets, deps.suppression, parsed.data.ids);
      },
      {
        parse: "none",
        detail: {
          summary: "Put dead letters back on their queues (all, or the given ids) and remove them from the dead-letter queue",
          tags: ["admin"],
          security: [{ bearer: [] }],
          requestBody: { required: false, content: { "application/json": { schema: z.toJSONSchema(replayRequestSchema) as Record<string, unknown>, example: { ids: ["dl-clean-42"] } } } },
          responses: { 200: { description: "replayed; `unknown` lists ids that are no dead letter", content: { "application/json": { example: { replayed: 1, skipped: [], unknown: [] } } } } },
        },
      },
    )
    .post(
      "/admin/suppressions/lift",
      async ({ request }) => {
        admin(request);
        const text = await readBodyText(request, deps.config.LIFELINE_MAX_BODY_BYTES);
        let raw: unknown;
        try {
          raw = JSON.parse(text || "{}");
        } catch {
          throw new InvalidJsonError('request body is not valid JSON; send {"ids": ["<userId or anonymousId>", ...]}');
        }
        const parsed = liftRequestSchema.safeParse(raw);
        if (!parsed.success) throw new InvalidRequestError(`ids: ${parsed.error.issues[0]?.message ?? "invalid"}`, { details: { path: "ids" } });
        // An id may have been erased as a customer or as a visitor's device.
        const lifted = await deps.suppression.lift(parsed.data.ids.flatMap((id) => [id, ANONYMOUS_PREFIX + id]));
        return { lifted };
      },
      {
        parse: "none",
        detail: {
          summary: "Let erased customers come back: their ids are no longer suppressed (events, identity links and replays for them are taken in again)",
          tags: ["admin"],
          security: [{ bearer: [] }],
          requestBody: { content: { "application/json": { schema: z.toJSONSchema(liftRequestSchema) as Record<string, unknown>, example: { ids: ["ada"] } } } },
          responses: { 200: { description: "how many suppressed ids were lifted", content: { "application/json": { example: { lifted: 1 } } } } },
        },
      },
    );
}
