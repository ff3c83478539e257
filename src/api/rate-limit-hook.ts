import { Elysia } from "elysia";
import { ADMIN_COOKIE, cookieValue } from "./admin-auth";
import { presentedKey } from "./auth";
import type { AppDeps } from "./deps";

/**
 * Charges one request to the bucket of every read or admin key (header or dashboard session),
 * before the route runs. Write keys are charged per event by the ingest routes instead; unknown
 * keys are refused by the route's own auth check.
 */
export function requestRateLimit(deps: Pick<AppDeps, "keyRing" | "adminSessions" | "rateLimiter">) {
  return new Elysia({ name: "request-rate-limit" }).onBeforeHandle({ as: "global" }, async ({ request }) => {
    const headerKey = presentedKey(request.headers);
    const cookie = headerKey ? undefined : cookieValue(request.headers, ADMIN_COOKIE);
    const key = headerKey ?? (cookie ? deps.adminSessions.verify(cookie) : undefined);
    const role = key ? deps.keyRing.roleOf(key) : undefined;
    if (key && (role === "read" || role === "admin")) await deps.rateLimiter.charge(key, role);
  });
}
