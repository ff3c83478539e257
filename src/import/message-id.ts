import { createHash } from "node:crypto";
import { basename } from "node:path";

/**
 * A messageId that is the same every time the same row of the same file is imported with the
 * same mapping, so the API's dedup turns a second import into duplicates. The folder is left
 * out on purpose: moving the file does not change its ids.
 */
export function importMessageId(mappingName: string, file: string, key: string): string {
  const digest = createHash("sha256").update(`${mappingName}\u0000${basename(file)}\u0000${key}`).digest("hex");
  return `imp-${digest.slice(0, 32)}`;
}
