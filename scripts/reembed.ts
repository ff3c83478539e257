/**
 * Rebuilds the vector memory with the configured embedding provider from the text stored in
 * every point, then switches to it atomically. Resumable: run it again after an interruption.
 *   bun run reembed
 * Stop the embed workers first for a complete rebuild; the API may keep serving the old memory
 * until the switch, after which processes still holding the old memory refuse to use it and ask
 * to be restarted with the new model.
 */
import { createEmbedder } from "../src/embeddings/create-embedder";
import { reembedEmbedded, type ReembedProgress } from "../src/memory/reembed-embedded";
import { parseCli } from "../src/process/cli";
import { runProcess } from "../src/process/fatal";
import { cliTarget } from "./lib/instance";

const { values: flags } = parseCli({
  command: "bun run reembed",
  description:
    "Rebuilds the vector memory with the configured embedding provider and model (EMBEDDINGS_PROVIDER, LIFELINE_EMBEDDING_MODEL, …) from the text\n" +
    "stored in every point, then switches to it atomically. Resumable: run it again after an interruption. Stop the embed workers first for a\n" +
    "complete rebuild. Settings: the environment, then those of the instance `npm start` runs from the data folder.",
  options: {
    "data-dir": { type: "string", valueHint: "dir", description: "data folder whose memory to rebuild (default: LIFELINE_DATA_DIR or ./data of this checkout)" },
  },
});

function progressBar(): (p: ReembedProgress) => void {
  const started = performance.now();
  let firstDone = -1;
  let lastDraw = 0;
  return ({ done, total, phase }) => {
    const now = performance.now();
    if (firstDone < 0) firstDone = done;
    if (phase === "copy" && now - lastDraw < 200) return;
    lastDraw = now;
    const seconds = (now - started) / 1000;
    const rate = (done - firstDone) / Math.max(seconds, 1e-3);
    const eta = rate > 0 ? Math.max(0, total - done) / rate : Infinity;
    const fraction = total === 0 ? 1 : done / total;
    const width = 30;
    const bar = "#".repeat(Math.round(fraction * width)).padEnd(width, ".");
    const etaText = Number.isFinite(eta) ? `${Math.ceil(eta)} s` : "?";
    process.stderr.write(`\r[${bar}] ${done}/${total} ${(fraction * 100).toFixed(1)}%  ${Math.round(rate)} points/s  ETA ${etaText}  ${phase}   `);
    if (phase === "done") process.stderr.write("\n");
  };
}

runProcess("reembed", async () => {
  const config = cliTarget({ dataDir: flags["data-dir"] }).config();
  if (config.QDRANT_URL) {
    process.stderr.write(
      "reembed: QDRANT_URL is set; re-embedding a Qdrant memory is not implemented yet. " +
        "Create the collections under a new LIFELINE_KEY_PREFIX and replay the events instead.\n",
    );
    process.exit(2);
  }
  const embedder = await createEmbedder(config);
  const controller = new AbortController();
  process.once("SIGINT", () => {
    process.stderr.write("\nreembed: stopping after this batch; run again to resume\n");
    controller.abort();
  });
  const result = await reembedEmbedded({ dataDir: config.LIFELINE_DATA_DIR, embedder, onProgress: progressBar(), signal: controller.signal });
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(result.outcome === "interrupted" ? 130 : 0);
});
