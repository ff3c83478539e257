import { readFileSync } from "node:fs";

/** A BERT-style WordPiece tokenizer, as most sentence-embedding models (MiniLM, MPNet, BGE, E5, GTE) ship it. */
export type WordPiece = { encode(text: string, maxTokens: number): number[]; padId: number };

const tokenizerJsonSchemaHint = "a tokenizer.json whose model.type is WordPiece, or a vocab.txt";

/** Reads `tokenizer.json` (Hugging Face format, WordPiece model) or, failing that, `vocab.txt` from `dir`. */
export function loadWordPiece(dir: string): WordPiece {
  let vocab: Map<string, number>;
  let lowercase = true;
  let prefix = "##";
  let unk = "[UNK]";
  let maxCharsPerWord = 100;
  const json = readIfExists(`${dir}/tokenizer.json`);
  if (json !== undefined) {
    const parsed = JSON.parse(json) as {
      model?: { type?: string; vocab?: Record<string, number>; unk_token?: string; continuing_subword_prefix?: string; max_input_chars_per_word?: number };
      normalizer?: { type?: string; lowercase?: boolean } | null;
    };
    if (parsed.model?.type !== "WordPiece" || !parsed.model.vocab)
      throw new Error(`${dir}/tokenizer.json: model type ${parsed.model?.type ?? "(none)"} is not supported; Lifeline reads ${tokenizerJsonSchemaHint}`);
    vocab = new Map(Object.entries(parsed.model.vocab));
    lowercase = parsed.normalizer?.lowercase ?? true;
    prefix = parsed.model.continuing_subword_prefix ?? prefix;
    unk = parsed.model.unk_token ?? unk;
    maxCharsPerWord = parsed.model.max_input_chars_per_word ?? maxCharsPerWord;
  } else {
    const text = readIfExists(`${dir}/vocab.txt`);
    if (text === undefined) throw new Error(`${dir}: no tokenizer found; Lifeline reads ${tokenizerJsonSchemaHint}`);
    vocab = new Map(text.split("\n").map((t, i) => [t.replace(/\r$/, ""), i] as const).filter(([t]) => t !== ""));
  }
  const id = (token: string) => {
    const found = vocab.get(token);
    if (found === undefined) throw new Error(`${dir}: the vocabulary has no ${token} token`);
    return found;
  };
  const [cls, sep, unkId, padId] = [id("[CLS]"), id("[SEP]"), id(unk), vocab.get("[PAD]") ?? 0];

  function wordPieces(word: string, out: number[]): void {
    if (word.length > maxCharsPerWord) return void out.push(unkId);
    const pieces: number[] = [];
    for (let start = 0; start < word.length; ) {
      let end = word.length;
      let found: number | undefined;
      for (; end > start; end--) {
        found = vocab.get((start > 0 ? prefix : "") + word.slice(start, end));
        if (found !== undefined) break;
      }
      if (found === undefined) return void out.push(unkId);
      pieces.push(found);
      start = end;
    }
    out.push(...pieces);
  }

  return {
    padId,
    encode(text, maxTokens) {
      let normal = text.normalize("NFD");
      if (lowercase) normal = normal.toLowerCase().replace(/\p{Mn}/gu, "");
      const ids: number[] = [cls];
      // BERT's pre-tokenizer: whitespace, and every punctuation character on its own.
      for (const word of normal.match(/[\p{L}\p{N}\p{M}]+|[^\s\p{L}\p{N}\p{M}]/gu) ?? []) {
        wordPieces(word, ids);
        if (ids.length >= maxTokens - 1) break;
      }
      ids.length = Math.min(ids.length, maxTokens - 1);
      ids.push(sep);
      return ids;
    },
  };
}

function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}
