import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { convertWinkVectors } from "../../src/embeddings/convert-wink-vectors";
import type { Embedder } from "../../src/embeddings/embedder";
import { createLocalEmbedder, loadWordVectors, localCachePath } from "../../src/embeddings/local-model";
import { tokenise } from "../../src/embeddings/tokenise";

// Small enough to convert in about a second: vectors are stored by rank, so conversion stops early.
const VOCAB = 20_000;

let dataDir: string;
let embedder: Embedder;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "lifeline-embed-"));
  embedder = await createLocalEmbedder({ dataDir, vocabSize: VOCAB });
}, 60_000);
afterAll(() => rm(dataDir, { recursive: true, force: true }));

const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const norm = (v: Float32Array) => Math.sqrt(cos(v, v));
const embedOne = async (text: string) => (await embedder.embed([text]))[0]!;

describe("local embedder", () => {
  test("names its model by source, pooling and vocabulary, with 100 dimensions", () => {
    expect(embedder.modelId).toBe(`wink-glove-100d-abtt2-sif-v${VOCAB}`);
    expect(embedder.dimensions).toBe(100);
  });

  test("returns one unit vector per text, in order", async () => {
    const texts = ["christmas tree decoration", "", "kitchen knife set"];
    const vectors = await embedder.embed(texts);
    expect(vectors).toHaveLength(3);
    for (const v of vectors) {
      expect(v).toHaveLength(100);
      expect(norm(v)).toBeCloseTo(1, 5);
    }
    expect(Array.from(vectors[2]!)).toEqual(Array.from(await embedOne("kitchen knife set")));
  });

  test("is deterministic across embedder instances", async () => {
    const again = await createLocalEmbedder({ dataDir, vocabSize: VOCAB });
    const text = "conversion: Order Completed — WHITE HANGING HEART T-LIGHT HOLDER, category home decor";
    expect(Array.from((await again.embed([text]))[0]!)).toEqual(Array.from(await embedOne(text)));
  });

  test("similar texts are closer than unrelated ones", async () => {
    const [tree, bauble, knife] = await embedder.embed(["christmas tree decoration", "red christmas bauble", "kitchen knife set"]);
    expect(cos(tree!, bauble!)).toBeGreaterThan(cos(tree!, knife!) + 0.1);
    expect(cos(tree!, bauble!)).toBeGreaterThan(cos(bauble!, knife!) + 0.1);
  });

  test("frequent words move a text's vector less than rare ones (SIF weighting)", async () => {
    const base = await embedOne("christmas tree decoration");
    for (const [frequent, rare] of [["year", "kitchen"], ["said", "knife"], ["people", "candle"]] as const)
      expect(cos(base, await embedOne(`christmas tree decoration ${frequent}`))).toBeGreaterThan(
        cos(base, await embedOne(`christmas tree decoration ${rare}`)),
      );
  });

  test("case and punctuation do not change the vector", async () => {
    expect(cos(await embedOne("WHITE HANGING HEART T-LIGHT HOLDER"), await embedOne("white hanging heart t light holder"))).toBeCloseTo(1, 5);
  });

  test("texts without a known word get a deterministic, finite, non-zero fallback", async () => {
    for (const text of ["", "zzqx-9 qqvv", "123 456", "— !!"]) {
      const v = await embedOne(text);
      expect(v.every(Number.isFinite)).toBe(true);
      expect(norm(v)).toBeCloseTo(1, 5);
      expect(Array.from(await embedOne(text))).toEqual(Array.from(v));
    }
    expect(cos(await embedOne("zzqx-9 qqvv"), await embedOne("zzqx-9 qqvw"))).toBeGreaterThan(cos(await embedOne("zzqx-9 qqvv"), await embedOne("")));
  });

  test("a second load reuses the cache file quickly and never reads the source", async () => {
    const path = localCachePath(dataDir, VOCAB);
    const before = await stat(path);
    const started = performance.now();
    const reloaded = await createLocalEmbedder({ dataDir, vocabSize: VOCAB, sourcePath: "/nonexistent/wink.json" });
    const loadMs = performance.now() - started;
    expect(loadMs).toBeLessThan(1000);
    expect((await stat(path)).mtimeMs).toBe(before.mtimeMs);
    expect(Array.from((await reloaded.embed(["red christmas bauble"]))[0]!)).toEqual(Array.from(await embedOne("red christmas bauble")));
  });

  test("a corrupt cache file is replaced by a fresh conversion", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lifeline-embed-corrupt-"));
    try {
      const path = localCachePath(dir, 500);
      await createLocalEmbedder({ dataDir: dir, vocabSize: 500 });
      await writeFile(path, "not a cache");
      await createLocalEmbedder({ dataDir: dir, vocabSize: 500 });
      expect((await loadWordVectors(path))?.words).toHaveLength(500);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe("tokenise", () => {
  const known = new Set(["t-shirt"]);
  const cases = [
    { text: "WHITE HANGING HEART T-LIGHT HOLDER", want: ["white", "hanging", "heart", "light", "holder"] },
    { text: "blue T-Shirt, 2 items, 15.30 GBP", want: ["blue", "t-shirt", "items", "gbp"] },
    { text: "the cat and a dog's bowl", want: ["cat", "dog", "bowl"] },
    { text: "Crème brûlée", want: ["crème", "brûlée"] },
  ];
  for (const { text, want } of cases) test(`"${text}" → ${want.join(" ")}`, () => expect(tokenise(text, (w) => known.has(w))).toEqual(want));
});

describe("convertWinkVectors", () => {
  // The wink layout with the awkward parts: escaped keys, an exponent, punctuation and stop words
  // among the ranked words, and a read size that splits every token across chunks.
  const source = {
    precision: 8,
    dimensions: 3,
    words: ["the", ",", "said", '"', "new", "x", "well-known", "year"],
    vectors: {
      the: [1, 0, 0, 1, 0],
      ",": [0, 1, 0, 1, 1],
      said: [0.5, -0.25, 4e-7, 0.56, 2],
      '"': [0, 0, 1, 1, 3],
      new: [-1.5, 2, 0.125, 2.5, 4],
      x: [1, 1, 1, 1.7, 5],
      "well-known": [0.1, 0.2, -0.3, 0.37, 6],
      year: [9, 9, 9, 15.6, 7],
    },
    unkVector: [0, 0, 0, -1],
  };

  test("keeps the most frequent tokenisable content words with their source ranks, across chunk boundaries", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lifeline-convert-"));
    try {
      await writeFile(join(dir, "src.json"), JSON.stringify(source));
      const r = await convertWinkVectors({ sourcePath: join(dir, "src.json"), targetPath: join(dir, "out.bin"), vocabSize: 3, chunkBytes: 7 });
      expect(r).toMatchObject({ words: 3, dimensions: 3, sourceSize: 8 });
      const wv = (await loadWordVectors(join(dir, "out.bin")))!;
      expect(wv.words).toEqual(["said", "new", "well-known"]);
      expect(Array.from(wv.ranks)).toEqual([2, 4, 6]);
      const vector = (slot: number) => Array.from(wv.codes.subarray(slot * 3, slot * 3 + 3), (c) => c * wv.scales[slot]!);
      const want = [source.vectors.said, source.vectors.new, source.vectors["well-known"]];
      want.forEach((v, slot) => vector(slot).forEach((x, d) => expect(Math.abs(x - v[d]!)).toBeLessThan(0.01 * Math.abs(v[0]!) + 0.02)));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
