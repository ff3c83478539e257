import stem from "wink-porter2-stemmer";
import { tokenise } from "../embeddings/tokenise";

/** Stemmed content words of a text, as keyword search indexes and queries them ("deliveries" → "deliveri"). */
export function keywordTerms(text: string): string[] {
  return tokenise(text, () => false).map((word) => stem(word));
}

/** What BM25 needs to know about the whole memory: points, their mean length, and how many points hold each term. */
export type CorpusStats = { documents: number; meanLength: number; documentFrequency: (term: string) => number };

// Robertson & Zaragoza's usual constants: term-frequency saturation and length normalisation.
const K1 = 1.2;
const B = 0.75;

/** Okapi BM25 of one document (its stemmed terms) for the query's distinct stemmed terms. */
export function bm25(queryTerms: readonly string[], documentTerms: readonly string[], stats: CorpusStats): number {
  if (queryTerms.length === 0 || documentTerms.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const t of documentTerms) counts.set(t, (counts.get(t) ?? 0) + 1);
  const norm = K1 * (1 - B + (B * documentTerms.length) / Math.max(stats.meanLength, 1e-9));
  let score = 0;
  for (const term of new Set(queryTerms)) {
    const tf = counts.get(term);
    if (!tf) continue;
    const df = stats.documentFrequency(term);
    const idf = Math.log(1 + (stats.documents - df + 0.5) / (df + 0.5));
    score += (idf * tf * (K1 + 1)) / (tf + norm);
  }
  return score;
}

export const searchModes = ["vector", "keyword", "hybrid"] as const;
export type SearchMode = (typeof searchModes)[number];

/**
 * The hybrid mix: cosine similarity plus a keyword share, BM25 squashed into [0, 1) by
 * s / (s + KEYWORD_HALF) so that one rare shared word (BM25 ≈ 3) counts about half of a perfect
 * keyword match. Chosen on test/integration/memory-free-text.test.ts (see the issue 16 note).
 */
export const KEYWORD_WEIGHT = 0.3;
export const KEYWORD_HALF = 3;

export function keywordShare(bm25Score: number): number {
  return bm25Score <= 0 ? 0 : bm25Score / (bm25Score + KEYWORD_HALF);
}

/** Final score of a point: cosine, squashed BM25, or their mix. */
export function combinedScore(mode: SearchMode, cosine: number, bm25Score: number): number {
  if (mode === "vector") return cosine;
  if (mode === "keyword") return keywordShare(bm25Score);
  return (1 - KEYWORD_WEIGHT) * cosine + KEYWORD_WEIGHT * keywordShare(bm25Score);
}

/** Corpus statistics of just these documents (their stemmed terms): for stores that score keywords over a candidate set. */
export function localCorpusStats(documents: readonly (readonly string[])[]): CorpusStats {
  const df = new Map<string, number>();
  let length = 0;
  for (const terms of documents) {
    length += terms.length;
    for (const t of new Set(terms)) df.set(t, (df.get(t) ?? 0) + 1);
  }
  return { documents: documents.length, meanLength: documents.length ? length / documents.length : 0, documentFrequency: (t) => df.get(t) ?? 0 };
}
