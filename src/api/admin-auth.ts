import { createHmac, timingSafeEqual } from "node:crypto";
import type { Config } from "../config";
import { ForbiddenError, UnauthorizedError } from "../errors";
import { presentedKey, type KeyRing } from "./auth";
import { keyId } from "./rate-limit";

export const ADMIN_COOKIE = "lifeline_admin";

// A browser cannot send a Bearer header when it navigates, so the dashboard also takes Basic
// auth (the browser's own prompt; the key as user name or password) and a session cookie set
// by POST /admin/login. The cookie holds no key: "<keyId>.<expiresMs>.<hmac>", signed with the
// admin key itself, so removing a key from LIFELINE_ADMIN_KEYS ends its sessions at once and
// there is no extra secret to manage.

export type AdminSessions = {
  /** A cookie value for this admin key, valid for the configured session length. */
  issue(key: string, nowMs?: number): string;
  /** The admin key a cookie value stands for, if it is genuine and not expired. */
  verify(token: string, nowMs?: number): string | undefined;
  maxAgeSeconds: number;
};

export function adminSessions(config: Pick<Config, "LIFELINE_ADMIN_KEYS" | "LIFELINE_ADMIN_SESSION_HOURS">): AdminSessions {
  const byId = new Map(config.LIFELINE_ADMIN_KEYS.map((key) => [keyId(key), key]));
  const maxAgeSeconds = config.LIFELINE_ADMIN_SESSION_HOURS * 3600;
  const sign = (key: string, id: string, expires: number) => createHmac("sha256", key).update(`lifeline-admin-session.${id}.${expires}`).digest("base64url");
  return {
    maxAgeSeconds,
    issue(key, nowMs = Date.now()) {
      const id = keyId(key);
      const expires = nowMs + maxAgeSeconds * 1000;
      return `${id}.${expires}.${sign(key, id, expires)}`;
    },
    verify(token, nowMs = Date.now()) {
      const [id = "", expiresText = "", mac = ""] = token.split(".");
      const key = byId.get(id);
      const expires = Number(expiresText);
      if (!key || !Number.isFinite(expires) || expires < nowMs) return undefined;
      const want = Buffer.from(sign(key, id, expires));
      const got = Buffer.from(mac);
      return got.length === want.length && timingSafeEqual(got, want) ? key : undefined;
    },
  };
}

/** A cookie's value; undefined when absent or not decodable (a malformed cookie is no session, not an error). */
export function cookieValue(headers: Headers, name: string): string | undefined {
  for (const part of (headers.get("cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** Basic auth with an empty user name and the key as password (what a browser prompt invites). */
function basicPassword(headers: Headers): string | undefined {
  const [scheme = "", value = ""] = (headers.get("authorization") ?? "").trim().split(/\s+/, 2);
  if (!/^basic$/i.test(scheme)) return undefined;
  const decoded = Buffer.from(value, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon >= 0 && decoded.slice(colon + 1) ? decoded.slice(colon + 1) : undefined;
}

/**
 * The admin key behind a request: Bearer, Basic (user or password), X-Write-Key or the session
 * cookie. 401 without a valid key, 403 for a key of another role (roles do not nest).
 */
export function authorizeAdmin(ring: KeyRing, sessions: AdminSessions, headers: Headers): string {
  const candidates = [presentedKey(headers), basicPassword(headers)].filter((k): k is string => Boolean(k));
  const admin = candidates.find((k) => ring.roleOf(k) === "admin");
  if (admin) return admin;
  const other = candidates.map((k) => ring.roleOf(k)).find(Boolean);
  if (other) throw new ForbiddenError(`this route needs an admin key; a ${other} key was given`);
  const cookie = cookieValue(headers, ADMIN_COOKIE);
  const fromSession = cookie ? sessions.verify(cookie) : undefined;
  if (fromSession) return fromSession;
  if (candidates.length) throw new UnauthorizedError("the key is not valid");
  throw new UnauthorizedError(
    cookie ? "the admin session has expired; log in again at /admin/login" : "an admin key is required (Authorization: Bearer <key>, Basic auth, or log in at /admin/login)",
  );
}
