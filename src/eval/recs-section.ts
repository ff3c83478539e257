/**
 * The report's recommendations section: Lifeline's top 10 beside most-popular and item
 * co-occurrence, fitted on the same history before the cutoff, against the new items each
 * customer bought within the horizon. Absent when the data carries no product ids. Pure.
 */
import type { EvalContext } from "./eval-context";
import type { EvalReport } from "./eval-report";
import { itemCooccurrence, K, mostPopular, scoreRecs } from "./rec-scores";

export function recsSection(ctx: EvalContext): Pick<EvalReport, "recs"> {
  const split = ctx.truth.recs;
  if (!split) return {};
  const popular = mostPopular(split.train);
  const cooc = itemCooccurrence(split.train, ["view", "cart", "wishlist", "purchase"]);
  const lifelineLists = split.cases.map((c) => (ctx.insightOf(c.customer.customerId)?.recommendations ?? []).map((r) => r.itemId));
  const lifeline = scoreRecs("lifeline", "Lifeline", split, lifelineLists);
  const pop = scoreRecs("most-popular", "Most popular", split, split.cases.map((c) => popular(c.customer)));
  const co = scoreRecs("cooccurrence", "Item co-occurrence (cosine)", split, split.cases.map((c) => cooc(c.customer)));
  const { reference } = ctx.run;
  return {
    recs: {
      k: K,
      evaluated: split.cases.length,
      catalogue: split.catalogue.size,
      methods: [lifeline, pop, co],
      hrRatioToMostPopular: lifeline.hr / pop.hr,
      meetsTarget: lifeline.hr >= 1.5 * pop.hr && lifeline.hr > co.hr,
      choice: ctx.system.recommender?.choice ?? null,
      rebuy: ctx.system.recommender?.rebuy ?? null,
      ...(reference ? { reference } : {}),
    },
  };
}
