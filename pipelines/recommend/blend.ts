/**
 * Recommendations for one customer: each source scores items from its own evidence, scores are
 * scaled to at most 1 per source and query, weighted (options.weights) and summed. An item is
 * explained by its strongest source that has evidence for it, with the count; an item no source
 * has evidence for is never recommended, so a short list beats padding. Items the customer bought
 * are left out (a re-bought catalogue offers them in the buy-again list instead). Pure.
 */
import { latestTs, type RecHistory, type Recommendation } from "./history";
import { topK } from "./item-lists";
import { customerVector, type Recommender } from "./model";
import { afterSource } from "./sources/after";
import { clear, MODEL_SOURCES, workspaceFor, type Source } from "./sources/component";
import { itemsSource } from "./sources/items";
import { liveTogether, livePopular, type LiveEvidence } from "./sources/live";
import { popularSource } from "./sources/popular";
import { revisitSource } from "./sources/revisit";
import { usersSource } from "./sources/users";

const SOURCES: Record<(typeof MODEL_SOURCES)[number], Source> = {
  users: usersSource,
  items: itemsSource,
  after: afterSource,
  revisit: revisitSource,
  popular: popularSource,
};

/** Weight of live popularity when no model is fitted yet and live co-purchases exist (as `popular` in the defaults). */
const LIVE_POPULAR_WEIGHT = 0.1;

const purchasedIds = (customer: RecHistory) => new Set(customer.events.filter((e) => e.kind === "purchase").map((e) => e.itemId));

/**
 * Top-k items for one customer, best first, from the fitted model (when there is one) and the
 * live counts (when given). Items unknown to the model are ignored by its sources.
 */
export function recommend(model: Recommender | undefined, customer: RecHistory, k: number, live?: LiveEvidence): Recommendation[] {
  const owned = model && !model.options.excludePurchased ? new Set<string>() : purchasedIds(customer);
  const candidates = new Map<string, Recommendation>();
  if (model) for (const r of fromModel(model, customer, owned)) candidates.set(r.itemId, r);
  if (live) {
    const together = liveTogether(live, owned);
    const weight = model ? model.options.weights.items * unknownShare(model, customer) : 1;
    if (weight > 0) mergeLive(candidates, together, weight);
    if (!model) mergeLive(candidates, livePopular(live, owned), together.length ? LIVE_POPULAR_WEIGHT : 1);
  }
  return [...candidates.values()].sort((a, b) => b.score - a.score || (a.itemId < b.itemId ? -1 : 1)).slice(0, k);
}

/** Adds live candidates at `weight` (scaled to at most 1 first); an item already there keeps its better-supported reason. */
function mergeLive(candidates: Map<string, Recommendation>, live: ReturnType<typeof liveTogether>, weight: number) {
  const max = live[0]?.score ?? 0;
  if (max <= 0) return;
  for (const c of live) {
    const add = (weight * c.score) / max;
    const current = candidates.get(c.itemId);
    if (!current) candidates.set(c.itemId, { ...c, score: add });
    else current.score += add;
  }
}

/** Share of the customer's purchased items the fitted model does not know (bought since the refit). */
function unknownShare(model: Recommender, customer: RecHistory): number {
  const bought = purchasedIds(customer);
  if (bought.size === 0) return 0;
  let unknown = 0;
  for (const id of bought) if (!model.indexOf.has(id)) unknown++;
  return unknown / bought.size;
}

function fromModel(model: Recommender, customer: RecHistory, owned: ReadonlySet<string>): Recommendation[] {
  const w = model.options.weights;
  const ws = workspaceFor(model);
  const q = customerVector(customer.events, model.indexOf, model.options, latestTs(customer.events));
  const query = { model, ws, q, customer };
  const { parts } = ws;
  if (q.item.length > 0)
    for (const name of ["users", "items", "after", "revisit"] as const) if (w[name] > 0) SOURCES[name].score(query, parts[name]);
  const hasSignal = MODEL_SOURCES.some((s) => parts[s].max > 0);
  if (w.popular > 0 || !hasSignal) SOURCES.popular.score(query, parts.popular);

  const { total, best, bestSource } = ws;
  const touched: number[] = [];
  for (let si = 0; si < MODEL_SOURCES.length; si++) {
    const name = MODEL_SOURCES[si]!;
    const part = parts[name];
    if (part.max <= 0) continue;
    const weight = hasSignal ? w[name] : 1;
    for (const i of part.touched) {
      if (owned.has(model.itemIds[i]!)) continue;
      const contribution = (weight * part.score[i]!) / part.max;
      if (total[i] === 0 && best[i] === 0) touched.push(i);
      total[i]! += contribution;
      // Only a source with evidence for the item may explain it.
      if (part.support[i]! >= 1 && contribution > best[i]!) (best[i] = contribution), (bestSource[i] = si);
    }
  }
  const explained = touched.filter((i) => best[i]! > 0);
  const result = topK(explained, total, Math.min(explained.length, 500)).map((i) => {
    const source = MODEL_SOURCES[bestSource[i]!]!;
    const { reason, support } = SOURCES[source].explain(model, parts[source], i);
    const name = model.names[i];
    return { itemId: model.itemIds[i]!, ...(name ? { name } : {}), score: total[i]!, reason, support, source };
  });
  for (const i of touched) (total[i] = 0), (best[i] = 0);
  for (const source of MODEL_SOURCES) clear(parts[source]);
  return result;
}
