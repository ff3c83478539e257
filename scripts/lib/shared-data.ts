import { existsSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * The shared, read-only data sets (../shared/data beside the checkout). CI clones the repo
 * elsewhere with shared/ beside it, so the path is found relative to this repo, with
 * LIFELINE_SHARED_DATA to point anywhere else.
 */
export function sharedDataDir(): string {
  const candidates = [process.env.LIFELINE_SHARED_DATA, resolve(import.meta.dir, "../../../shared/data"), "/work/shared/data"].filter(
    (p): p is string => Boolean(p),
  );
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}

export const sharedData = (...parts: string[]) => join(sharedDataDir(), ...parts);
