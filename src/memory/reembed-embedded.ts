import type { Database } from "bun:sqlite";
import { existsSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Embedder } from "../embeddings/embedder";
import { currentMemoryFile, EmbeddedStore, switchMemoryFile } from "./embedded-store";
import {
  feedStep,
  openMemoryDatabase,
  readMeta,
  readPayloadRows,
  startCursor,
  writeMeta,
  type FeedCursor,
  type FeedStep,
  type PayloadRow,
} from "./embedded-schema";
import { VectorFile } from "./vector-file";
import { lifecycleStages, type CustomerVectorOptions, type MemoryMeta } from "./memory-store";

export type ReembedProgress = { done: number; total: number; phase: "copy" | "switch" | "done" };

export type ReembedOptions = CustomerVectorOptions & {
  dataDir: string;
  embedder: Embedder;
  /** Texts per embed call and points per write. @defaultValue 256 */
  batchSize?: number;
  onProgress?: (progress: ReembedProgress) => void;
  /** Stops after the batch in flight; the checkpoint lets the next run resume. */
  signal?: AbortSignal;
};

export type ReembedResult =
  | { outcome: "switched"; points: number; from: MemoryMeta; to: MemoryMeta; file: string; resumedAt: number }
  | { outcome: "up-to-date"; meta: MemoryMeta }
  | { outcome: "interrupted"; points: number };

export const NEXT_MEMORY_FILE = "memory.next.sqlite";
const CHECKPOINT_KEY = "reembedCheckpoint";

/**
 * Rebuilds the embedded memory with `embedder` from the texts stored in its points, into
 * `memory.next.sqlite`, then switches `CURRENT` to it. Erasures and stitching that happen on
 * the old memory meanwhile are replayed from its change log, so nothing erased comes back.
 * Interrupted runs resume from the last checkpoint (the old memory's feed cursor, kept in the
 * new file and committed after the points it covers).
 */
export async function reembedEmbedded(options: ReembedOptions): Promise<ReembedResult> {
  const { dataDir, embedder } = options;
  const memoryDir = join(dataDir, "memory");
  const sourceFile = currentMemoryFile(dataDir);
  // The old memory is opened without the model check: its model is the one being replaced.
  const source = openMemoryDatabase(join(memoryDir, sourceFile));
  const target = new EmbeddedStore({ dataDir, fileName: NEXT_MEMORY_FILE, modelId: embedder.modelId, dimensions: embedder.dimensions, halfLifeMs: options.halfLifeMs });
  let checkpointDb: Database | undefined;
  try {
    const from = { modelId: readMeta(source, "modelId") ?? "(empty)", dimensions: Number(readMeta(source, "dimensions") ?? 0) };
    if (from.modelId === embedder.modelId && from.dimensions === embedder.dimensions && !existsSync(join(memoryDir, NEXT_MEMORY_FILE)))
      return { outcome: "up-to-date", meta: from };
    await target.init();
    checkpointDb = openMemoryDatabase(target.path);
    const saved = readMeta(checkpointDb, CHECKPOINT_KEY);
    let cursor: FeedCursor = saved ? (JSON.parse(saved) as FeedCursor) : source.transaction(() => startCursor(source))();
    const resumedAt = await target.count();
    const total = source.query<{ n: number }, []>("SELECT count(*) AS n FROM points").get()!.n;
    const progress = (phase: ReembedProgress["phase"]) => options.onProgress?.({ done: Math.min(copied, total), total, phase });
    let copied = resumedAt;
    const save = (next: FeedCursor) => {
      cursor = next;
      writeMeta(checkpointDb!, CHECKPOINT_KEY, JSON.stringify(next));
    };
    const apply = async (step: FeedStep<PayloadRow>) => {
      if (step.kind === "reset")
        throw new Error(`the old memory's change log was pruned past the checkpoint; delete ${join(memoryDir, NEXT_MEMORY_FILE)} and run reembed again`);
      if (step.kind === "points") {
        const payloads = step.rows.map((r) => ({ ...r.payload, text: withoutStagePrefix(r.payload.text) }));
        const vectors = await embedder.embed(payloads.map((p) => p.text));
        await target.upsert(step.rows.map((r, i) => ({ id: r.id, customerId: r.customerId, vector: vectors[i]!, payload: payloads[i]! })));
        copied += step.rows.length;
      } else if (step.change.op === "reassign") await target.reassignCustomer(step.change.customerId, step.change.toId);
      else if (step.change.op === "delete") await target.deleteCustomer(step.change.customerId);
      // "remove" (a replaced row): the replacement arrives as a new row and overwrites by id.
      save(step.cursor);
    };
    const next = () => source.transaction(() => feedStep(source, cursor, options.batchSize ?? 256, readPayloadRows))();

    for (let step = next(); step; step = next()) {
      if (options.signal?.aborted) return { outcome: "interrupted", points: copied };
      await apply(step);
      progress("copy");
    }

    // Hold the old memory's write lock for the last few rows and the switch: a writer that was
    // waiting sees the new CURRENT once it gets the lock and refuses to write into the old file.
    progress("switch");
    source.exec("BEGIN IMMEDIATE");
    try {
      for (let step = next(); step; step = next()) await apply(step);
      checkpointDb.close();
      checkpointDb = undefined;
      await target.close();
      const file = `memory.${Date.now()}.sqlite`;
      renameSync(target.path, join(memoryDir, file));
      VectorFile.rename(target.path, join(memoryDir, file));
      switchMemoryFile(dataDir, file);
      source.exec("COMMIT");
      source.close();
      removeMemoryFile(memoryDir, sourceFile);
      progress("done");
      return { outcome: "switched", points: copied, from, to: target.meta, file, resumedAt };
    } catch (err) {
      if (source.inTransaction) source.exec("ROLLBACK");
      throw err;
    }
  } finally {
    checkpointDb?.close();
    await target.close();
    try {
      source.close();
    } catch {
      // Already closed after the switch.
    }
  }
}

const OLD_STAGE_PREFIX = new RegExp(`^(?:${lifecycleStages.join("|")}): `);

/** Texts rendered before issue 16 began with the lifecycle stage, which is a filter, not content. */
export function withoutStagePrefix(text: string): string {
  return text.replace(OLD_STAGE_PREFIX, "");
}

/** The old memory holds erased-elsewhere history only until it is gone: delete it with its WAL. */
function removeMemoryFile(memoryDir: string, file: string): void {
  for (const suffix of ["", "-wal", "-shm"]) rmSync(join(memoryDir, file + suffix), { force: true });
  VectorFile.remove(join(memoryDir, file));
}
