import { mkdir, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";

/** Ranked word vectors: `ranks[i]` is the frequency rank of `words[i]` among `sourceSize` source words. */
type RankedWords = { words: string[]; ranks: Uint32Array; sourceSize: number; dimensions: number };

/** As read from the source: `vectors` holds `words.length × dimensions` floats. */
export type WordVectors = RankedWords & { vectors: Float32Array };

/**
 * As stored in the cache: vector i is `scales[i] × codes[i·dims … (i+1)·dims)`. Int8 keeps the
 * file and the resident memory at a quarter of Float32 (≈10 MB for 100k words) for a cosine
 * error far below what separates similar from unrelated texts.
 */
export type QuantisedWordVectors = RankedWords & { scales: Float32Array; codes: Int8Array };

// Layout (little-endian): u32 × 6 header, UTF-8 words joined by "\n" padded to 4 bytes,
// u32 ranks, f32 scales, i8 codes. Bump FORMAT_VERSION when the layout, the word selection or the
// vectors' transformation changes (3: all-but-the-top).
const MAGIC = 0x5657_4c4c; // "LLWV"
export const FORMAT_VERSION = 3;
const HEADER_BYTES = 24;

export function quantise(wv: WordVectors): QuantisedWordVectors {
  const { dimensions: dims, words } = wv;
  const scales = new Float32Array(words.length);
  const codes = new Int8Array(words.length * dims);
  for (let w = 0; w < words.length; w++) {
    let maxAbs = 0;
    for (let d = 0; d < dims; d++) maxAbs = Math.max(maxAbs, Math.abs(wv.vectors[w * dims + d]!));
    const scale = maxAbs / 127 || 1;
    scales[w] = scale;
    for (let d = 0; d < dims; d++) codes[w * dims + d] = Math.round(wv.vectors[w * dims + d]! / scale);
  }
  return { words, ranks: wv.ranks, sourceSize: wv.sourceSize, dimensions: dims, scales, codes };
}

export function encodeWordVectors(q: QuantisedWordVectors): Uint8Array {
  const wordBytes = new TextEncoder().encode(q.words.join("\n"));
  const ranksOffset = HEADER_BYTES + align4(wordBytes.length);
  const scalesOffset = ranksOffset + q.ranks.byteLength;
  const codesOffset = scalesOffset + q.scales.byteLength;
  const out = new Uint8Array(codesOffset + q.codes.byteLength);
  const header = new DataView(out.buffer);
  [MAGIC, FORMAT_VERSION, q.dimensions, q.words.length, q.sourceSize, wordBytes.length].forEach((v, i) =>
    header.setUint32(i * 4, v, true),
  );
  out.set(wordBytes, HEADER_BYTES);
  out.set(bytesOf(q.ranks), ranksOffset);
  out.set(bytesOf(q.scales), scalesOffset);
  out.set(bytesOf(q.codes), codesOffset);
  return out;
}

/** Decodes a cache file without copying; `undefined` when it is not one of ours or of another version. */
export function decodeWordVectors(bytes: ArrayBuffer): QuantisedWordVectors | undefined {
  if (bytes.byteLength < HEADER_BYTES) return undefined;
  const header = new DataView(bytes);
  const [magic, version, dimensions, count, sourceSize, wordByteLength] = [0, 1, 2, 3, 4, 5].map((i) => header.getUint32(i * 4, true)) as [
    number, number, number, number, number, number,
  ];
  if (magic !== MAGIC || version !== FORMAT_VERSION) return undefined;
  const ranksOffset = HEADER_BYTES + align4(wordByteLength);
  const scalesOffset = ranksOffset + count * 4;
  const codesOffset = scalesOffset + count * 4;
  if (bytes.byteLength !== codesOffset + count * dimensions) return undefined;
  const text = new TextDecoder().decode(new Uint8Array(bytes, HEADER_BYTES, wordByteLength));
  const words = count === 0 ? [] : text.split("\n");
  if (words.length !== count) return undefined;
  return {
    words,
    ranks: new Uint32Array(bytes, ranksOffset, count),
    sourceSize,
    dimensions,
    scales: new Float32Array(bytes, scalesOffset, count),
    codes: new Int8Array(bytes, codesOffset, count * dimensions),
  };
}

/** Writes next to `path` then renames, so concurrent readers see the old file or the whole new one. */
export async function writeFileAtomically(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${crypto.randomUUID()}.tmp`;
  try {
    await Bun.write(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

const align4 = (n: number) => (n + 3) & ~3;
const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
