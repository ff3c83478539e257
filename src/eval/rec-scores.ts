/**
 * Recommendation figures with a time split: targets are the items a customer bought in the
 * horizon after the cutoff that they had not bought before it. Baselines fitted on the same
 * history before the cutoff: most popular (distinct buyers) and item co-occurrence (cosine
 * over customers). Pure.
 */
import { catalogueCoverage, hitRateAtK, meanNdcgAtK, type RankedCase } from "../../pipelines/rec-metrics";
import { K, type RecSplit } from "../../pipelines/recommend/validation";

export { itemCooccurrence, K, mostPopular, recSplit, type RecCase, type RecSplit } from "../../pipelines/recommend/validation";
export type RecMethodResult = { name: string; label: string; hr: number; ndcg: number; coverage: number };

export function scoreRecs(name: string, label: string, split: RecSplit, lists: readonly (readonly string[])[]): RecMethodResult {
  const cases: RankedCase[] = split.cases.map((c, i) => ({ recommended: lists[i] ?? [], relevant: c.relevant }));
  return { name, label, hr: hitRateAtK(cases, K), ndcg: meanNdcgAtK(cases, K), coverage: catalogueCoverage(lists, split.catalogue, K) };
}

