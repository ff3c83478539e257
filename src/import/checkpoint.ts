import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";

const checkpointSchema = z.object({
  version: z.literal(1),
  mapping: z.string(),
  /** Per file (absolute path): rows up to `line` are done (sent and acknowledged, or rejected). */
  files: z.record(z.string(), z.object({ line: z.number().int().min(0), done: z.boolean().default(false) })),
  /**
   * Grouped inputs: the first `units` units (groups, in the order group-rows.ts gives them for
   * `buckets`) are done. A resumed run keeps the bucket count, so it sees the same order.
   */
  groups: z.object({ units: z.number().int().min(0), buckets: z.number().int().positive(), done: z.boolean() }).optional(),
  updatedAt: z.string(),
});
export type Checkpoint = z.infer<typeof checkpointSchema>;

/** The saved progress of an import, or a fresh one; refuses a checkpoint of another mapping. */
export function loadCheckpoint(path: string | undefined, mapping: string): Checkpoint {
  const fresh: Checkpoint = { version: 1, mapping, files: {}, updatedAt: new Date().toISOString() };
  if (!path || !existsSync(path)) return fresh;
  const parsed = checkpointSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
  if (!parsed.success) throw new Error(`checkpoint ${path} is not an import checkpoint; delete it or pass --fresh`);
  if (parsed.data.mapping !== mapping)
    throw new Error(`checkpoint ${path} belongs to mapping "${parsed.data.mapping}", not "${mapping}"; pass another --checkpoint or --fresh`);
  return parsed.data;
}

/** Writes the checkpoint atomically (temp file + rename), so a kill never leaves half a file. */
export function saveCheckpoint(path: string, cp: Checkpoint): void {
  mkdirSync(dirname(path), { recursive: true });
  cp.updatedAt = new Date().toISOString();
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(cp, null, 1));
  renameSync(tmp, path);
}
