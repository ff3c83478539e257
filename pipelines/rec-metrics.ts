/**
 * Pure top-k ranking metrics for recommendation lists. A list is ranked best first; the
 * relevant set is what the customer actually went on to buy (binary relevance).
 */

/** 1 when any of the first k recommended items is relevant, else 0. */
export function hitAtK(recommended: readonly string[], relevant: ReadonlySet<string>, k: number): number {
  const n = Math.min(k, recommended.length);
  for (let i = 0; i < n; i++) if (relevant.has(recommended[i]!)) return 1;
  return 0;
}

/**
 * Binary-relevance NDCG@k: DCG = Σ 1/log2(rank + 1) over relevant items in the first k,
 * divided by the DCG of an ideal list (min(k, |relevant|) relevant items first).
 * 0 when nothing is relevant.
 */
export function ndcgAtK(recommended: readonly string[], relevant: ReadonlySet<string>, k: number): number {
  const ideal = Math.min(k, relevant.size);
  if (ideal === 0) return 0;
  let dcg = 0;
  const n = Math.min(k, recommended.length);
  for (let i = 0; i < n; i++) if (relevant.has(recommended[i]!)) dcg += 1 / Math.log2(i + 2);
  let idcg = 0;
  for (let i = 0; i < ideal; i++) idcg += 1 / Math.log2(i + 2);
  return dcg / idcg;
}

/** One evaluated customer: the ranked list shown and the items they bought afterwards. */
export type RankedCase = { recommended: readonly string[]; relevant: ReadonlySet<string> };

/** Share of cases with at least one relevant item in the first k. NaN for no cases. */
export function hitRateAtK(cases: readonly RankedCase[], k: number): number {
  if (cases.length === 0) return Number.NaN;
  let hits = 0;
  for (const c of cases) hits += hitAtK(c.recommended, c.relevant, k);
  return hits / cases.length;
}

/** Mean NDCG@k over cases. NaN for no cases. */
export function meanNdcgAtK(cases: readonly RankedCase[], k: number): number {
  if (cases.length === 0) return Number.NaN;
  let sum = 0;
  for (const c of cases) sum += ndcgAtK(c.recommended, c.relevant, k);
  return sum / cases.length;
}

/**
 * Share of the catalogue that appears in at least one list's first k items. Items outside
 * the catalogue are not counted. NaN for an empty catalogue.
 */
export function catalogueCoverage(lists: readonly (readonly string[])[], catalogue: ReadonlySet<string>, k: number): number {
  if (catalogue.size === 0) return Number.NaN;
  const shown = new Set<string>();
  for (const list of lists) for (const item of list.slice(0, k)) if (catalogue.has(item)) shown.add(item);
  return shown.size / catalogue.size;
}
