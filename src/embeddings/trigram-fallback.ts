import { l2NormaliseInPlace } from "./l2-normalise";

/**
 * A deterministic, non-zero unit vector for texts without one known word: signed feature
 * hashing of character trigrams, so near-identical strings ("sku-123a", "sku-123b") still land near
 * each other. Padding makes even "" produce trigrams.
 */
export function trigramVector(text: string, dimensions: number): Float32Array {
  const v = new Float32Array(dimensions);
  const padded = `^^${text.toLowerCase().replace(/\s+/g, " ").trim()}$$`;
  for (let i = 0; i + 3 <= padded.length; i++) {
    const h = fnv1a(padded, i, 3);
    v[h % dimensions]! += h & 0x8000_0000 ? -1 : 1;
  }
  if (!l2NormaliseInPlace(v)) v[0] = 1; // all trigrams cancelled out: still a valid unit vector
  return v;
}

function fnv1a(s: string, start: number, length: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < start + length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
