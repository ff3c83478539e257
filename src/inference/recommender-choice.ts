/**
 * Per-tenant choice of the recommender's options, on a time split of the tenant's own history:
 * models fitted on what happened before the last horizon are judged on the new items customers
 * bought in it (HR@10, NDCG@10 breaking ties), beside most-popular and co-occurrence on the same
 * split. Starting from the best of a few presets (one per kind of catalogue seen so far), a short
 * coordinate ascent tunes the source weights, popularity decay and neighbourhood. When the blend
 * still loses to a baseline, the baseline's own preset ships and the choice says so. Pure.
 */
import { z } from "zod";
import { hitRateAtK, meanNdcgAtK } from "../../pipelines/rec-metrics";
import { buildRecommender, DAY_MS, withPopularityHalfLife, defaultRecommenderOptions, recommend, type RecHistory, type Recommender, type RecommenderOptions } from "../../pipelines/recommend";
import { itemCooccurrence, K, mostPopular, recSplit, type RecSplit } from "../../pipelines/recommend/validation";

const MIN_CASES = 30;

type Preset = { name: string; options: RecommenderOptions };
const preset = (name: string, o: Partial<RecommenderOptions>): Preset => ({ name, options: { ...defaultRecommenderOptions, ...o } });

/** Starting points: purchase baskets (the default), browsing-led catalogues, neighbours, and the two baselines' own shapes. */
export const RECOMMENDER_PRESETS: readonly Preset[] = [
  preset("baskets", {}),
  preset("browsing", { itemModel: "cosine", profileHalfLifeDays: 60, popularityHalfLifeDays: 60, weights: { users: 0.5, items: 1, after: 0, popular: 0.1, revisit: 3 } }),
  preset("neighbours", { weights: { users: 1, items: 0.5, after: 0, popular: 0.1, revisit: 0.3 } }),
  preset("co-occurrence", { itemModel: "cosine", profileHalfLifeDays: Infinity, kindWeights: { purchase: 1, cart: 1, wishlist: 1, view: 1 }, weights: { users: 0, items: 1, after: 0, popular: 0, revisit: 0 } }),
  preset("most-popular", { popularityHalfLifeDays: Infinity, weights: { users: 0, items: 0, after: 0, popular: 1, revisit: 0 } }),
];

const GRID: { path: string; values: (number | string)[] }[] = [
  { path: "weights.revisit", values: [0, 0.3, 1, 3] },
  { path: "weights.users", values: [0, 0.5, 1] },
  { path: "weights.popular", values: [0, 0.1, 0.5] },
  { path: "popularityHalfLifeDays", values: [15, 60, Infinity] },
  { path: "userNeighbours", values: [20, 40, 80] },
];

/** Options that change the fitted structures need a rebuild (popularity's half-life only re-ranks items); the others only change scoring. */
const BUILD_KEYS = ["kindWeights", "profileHalfLifeDays", "itemNeighbours", "itemSimAlpha", "afterWindowDays", "idfExponent", "itemModel", "easeLambda", "easeMaxItems"] as const;

export const recommenderChoiceSchema = z.object({
  validationCutoff: z.string(),
  horizonDays: z.number(),
  cases: z.number().int(),
  candidates: z.array(z.object({ name: z.string(), hr: z.number(), ndcg: z.number() })),
  baselines: z.object({ mostPopular: z.number(), cooccurrence: z.number() }),
  chosen: z.string(),
  reason: z.string(),
});
export type RecommenderChoice = z.infer<typeof recommenderChoiceSchema>;

type Scores = { hr: number; ndcg: number };
const objective = (s: Scores) => s.hr + 0.25 * s.ndcg;
const round4 = (v: number) => Math.round(v * 10_000) / 10_000;

function withValue(o: RecommenderOptions, path: string, value: number | string): RecommenderOptions {
  const [head, leaf] = path.split(".") as [string, string | undefined];
  if (leaf === undefined) return { ...o, [head]: value };
  return { ...o, [head]: { ...(o[head as keyof RecommenderOptions] as object), [leaf]: value } };
}

export function scoreOn(split: RecSplit, rank: (customer: RecHistory) => readonly string[]): Scores {
  const cases = split.cases.map((c) => ({ recommended: rank(c.customer), relevant: c.relevant }));
  return { hr: hitRateAtK(cases, K), ndcg: meanNdcgAtK(cases, K) };
}

/** Tunes on `split` (histories before its cutoff, targets after); returns the chosen options and how they were chosen. */
export function tuneRecommender(split: RecSplit, validationCutoffMs: number, horizonDays: number): { options: RecommenderOptions; choice: RecommenderChoice } {
  const models = new Map<string, Recommender>();
  const modelFor = (o: RecommenderOptions) => {
    // A zero weight skips building that structure, so it is part of the key too.
    const key = JSON.stringify([...BUILD_KEYS.map((k) => o[k]), o.weights.items > 0, o.weights.after > 0]);
    let m = models.get(key);
    if (!m) models.set(key, (m = buildRecommender(split.train, o)));
    const halfLifeKey = `${key}|${o.popularityHalfLifeDays}`;
    if (m.options.popularityHalfLifeDays !== o.popularityHalfLifeDays) {
      let repopular = models.get(halfLifeKey);
      if (!repopular) models.set(halfLifeKey, (repopular = withPopularityHalfLife(m, split.train, o.popularityHalfLifeDays)));
      m = repopular;
    }
    return { ...m, options: o };
  };
  const judge = (o: RecommenderOptions) => scoreOn(split, (c) => recommend(modelFor(o), c, K).map((r) => r.itemId));
  const tried: RecommenderChoice["candidates"] = [];
  let best = { name: "", options: defaultRecommenderOptions, scores: { hr: -1, ndcg: -1 } };
  for (const p of RECOMMENDER_PRESETS) {
    const scores = judge(p.options);
    tried.push({ name: p.name, hr: round4(scores.hr), ndcg: round4(scores.ndcg) });
    if (objective(scores) > objective(best.scores) + 1e-9) best = { name: p.name, options: p.options, scores };
  }
  const baselinePresets = new Set(["co-occurrence", "most-popular"]);
  if (!baselinePresets.has(best.name))
    for (const { path, values } of GRID)
      for (const value of values) {
        const o = withValue(best.options, path, value);
        if (JSON.stringify(o) === JSON.stringify(best.options)) continue;
        const scores = judge(o);
        const name = `${best.name.split(" + ")[0]} + ${path}=${value}`;
        tried.push({ name, hr: round4(scores.hr), ndcg: round4(scores.ndcg) });
        if (objective(scores) > objective(best.scores) + 1e-9) best = { name, options: o, scores };
      }
  const baselines = {
    mostPopular: round4(scoreOn(split, mostPopular(split.train)).hr),
    cooccurrence: round4(scoreOn(split, itemCooccurrence(split.train, ["view", "cart", "wishlist", "purchase"])).hr),
  };
  const beaten = best.scores.hr >= Math.max(baselines.mostPopular, baselines.cooccurrence);
  const reason = baselinePresets.has(best.name)
    ? `the ${best.name} baseline did best on the latest horizon (HR@10 ${round4(best.scores.hr)}); it ships as is`
    : beaten
      ? `best HR@10 on the latest horizon (${round4(best.scores.hr)}; most-popular ${baselines.mostPopular}, co-occurrence ${baselines.cooccurrence})`
      : `best blend (HR@10 ${round4(best.scores.hr)}) is below a baseline (most-popular ${baselines.mostPopular}, co-occurrence ${baselines.cooccurrence}); the presets that reproduce those baselines inside Lifeline did worse still (${tried
          .filter((t) => baselinePresets.has(t.name))
          .map((t) => `${t.name} ${t.hr}`)
          .join(", ")}), so the best blend ships`;
  return {
    options: best.options,
    choice: { validationCutoff: new Date(validationCutoffMs).toISOString(), horizonDays, cases: split.cases.length, candidates: tried, baselines, chosen: best.name, reason },
  };
}

/** The options for a tenant's recommender fitted as of `asOfMs`, chosen on its last `horizonDays`. */
export function chooseRecommender(histories: readonly RecHistory[], asOfMs: number, horizonDays: number): { options: RecommenderOptions; choice?: RecommenderChoice; note?: string } {
  const cutoffMs = asOfMs - horizonDays * DAY_MS;
  const split = recSplit(histories, cutoffMs, horizonDays * DAY_MS, false);
  if (split.cases.length < MIN_CASES)
    return { options: defaultRecommenderOptions, note: `too few customers bought new items in the last ${horizonDays} days to choose (${split.cases.length}); default options` };
  return tuneRecommender(split, cutoffMs, horizonDays);
}
