import { UnsupportedStoreError } from "../errors/unsupported-store-error";
import type { QdrantRest } from "./qdrant-rest";

/**
 * The oldest Qdrant the store can keep correct. Customer vectors are written with `update_filter`
 * (a conditional upsert, "write only if the stored version is older"), which Qdrant has from
 * 1.16.0; older servers ignore the unknown field and would let a slow worker's stale customer
 * vector overwrite a newer one. `update_mode` (1.17.0) is not needed.
 */
export const MIN_QDRANT_VERSION = "1.16.0";

type Version = [major: number, minor: number, patch: number];

/** "1.16.3", "v1.17.0", "1.18.0-dev" → [1, 16, 3]; undefined when it is not a version. */
export function parseVersion(text: string): Version | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(text.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

export function isAtLeast(version: Version, minimum: Version): boolean {
  for (let i = 0; i < 3; i++) if (version[i] !== minimum[i]) return version[i]! > minimum[i]!;
  return true;
}

/** Refuses a server whose reported version (GET /) is older than the minimum or unreadable. */
export function checkQdrantVersion(reported: unknown, url: string): void {
  const text = typeof reported === "string" ? reported : String(reported);
  const version = typeof reported === "string" ? parseVersion(reported) : undefined;
  if (version && isAtLeast(version, parseVersion(MIN_QDRANT_VERSION)!)) return;
  const what = version ? `reports version ${text}` : `reports a version Lifeline cannot read (${JSON.stringify(reported)})`;
  throw new UnsupportedStoreError(
    `Qdrant at ${url} ${what}; Lifeline needs Qdrant ${MIN_QDRANT_VERSION} or newer, whose conditional updates ` +
      "(update_filter) keep customer vectors correct when several workers write them. " +
      "Upgrade the server (docker-compose.yml runs qdrant/qdrant:v1.18.2) or unset QDRANT_URL to use the embedded store.",
    { details: { qdrantVersion: text, minimumVersion: MIN_QDRANT_VERSION } },
  );
}

/** Asks the server its version (GET /) and refuses one the store cannot work with. */
export async function checkQdrantServer(client: Pick<QdrantRest, "versionInfo" | "displayUrl">): Promise<void> {
  checkQdrantVersion((await client.versionInfo()).version, client.displayUrl);
}
