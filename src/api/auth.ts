import type { Config } from "../config";
import { ForbiddenError, UnauthorizedError } from "../errors";

export type Role = "write" | "read" | "admin";

export type KeyRing = { roleOf(key: string): Role | undefined };

export function keyRing(config: Pick<Config, "LIFELINE_WRITE_KEYS" | "LIFELINE_READ_KEYS" | "LIFELINE_ADMIN_KEYS">): KeyRing {
  const roles = new Map<string, Role>();
  for (const key of config.LIFELINE_WRITE_KEYS) roles.set(key, "write");
  for (const key of config.LIFELINE_READ_KEYS) roles.set(key, "read");
  for (const key of config.LIFELINE_ADMIN_KEYS) roles.set(key, "admin");
  return { roleOf: (key) => roles.get(key) };
}

/**
 * The key a request presents: `X-Write-Key`, `Authorization: Bearer <key>`, or Basic auth
 * with the key as user name (what Segment and RudderStack SDKs send).
 */
export function presentedKey(headers: Headers): string | undefined {
  const header = headers.get("x-write-key");
  if (header) return header.trim();
  const auth = headers.get("authorization");
  if (!auth) return undefined;
  const [scheme = "", value = ""] = auth.trim().split(/\s+/, 2);
  if (/^bearer$/i.test(scheme)) return value || undefined;
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const user = decoded.includes(":") ? decoded.slice(0, decoded.indexOf(":")) : decoded;
    return user || undefined;
  }
  return undefined;
}

/** "a read key", "an admin key". */
export const keyOfRole = (role: Role) => `${role === "admin" ? "an" : "a"} ${role} key`;

export function authorize(ring: KeyRing, headers: Headers, need: Role): Role {
  const key = presentedKey(headers);
  if (!key) throw new UnauthorizedError(`${keyOfRole(need)} is required (Authorization: Bearer <key>${need === "write" ? ", Basic auth or X-Write-Key" : ""})`);
  const role = ring.roleOf(key);
  if (!role) throw new UnauthorizedError("the key is not valid");
  // Roles do not nest: a leaked write key reads nothing, and admin keys stay off dashboards' scripts.
  if (role !== need) throw new ForbiddenError(`this route needs ${keyOfRole(need)}; ${keyOfRole(role)} was given`);
  return role;
}
