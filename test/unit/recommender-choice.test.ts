import { describe, expect, test } from "bun:test";
import { buildRecommender, DAY_MS, defaultRecommenderOptions, withPopularityHalfLife, type RecEvent, type RecHistory } from "../../pipelines/recommend";
import { chooseRecommender } from "../../src/inference/recommender-choice";

const T0 = Date.parse("2024-03-01T00:00:00Z");
const NOW = T0 + 60 * DAY_MS;

function rng(seed: number) {
  return () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** Customers look at a few items and later buy one of them; what others bought says nothing. */
function browsingTenant(): RecHistory[] {
  const rand = rng(3);
  return Array.from({ length: 300 }, (_, c) => {
    const events: RecEvent[] = [];
    for (let w = 0; w < 7; w++) {
      const day = w * 8 + Math.floor(rand() * 3);
      const looked = [0, 1, 2].map(() => `item-${Math.floor(rand() * 400)}`);
      for (const itemId of looked) events.push({ ts: T0 + day * DAY_MS, itemId, kind: "view" });
      events.push({ ts: T0 + (day + 2) * DAY_MS, itemId: looked[Math.floor(rand() * 3)]!, kind: "purchase" });
    }
    return { customerId: `c${c}`, events };
  });
}

describe("per-tenant recommender choice", () => {
  test("on a tenant whose customers buy what they looked at, chooses options that recommend the viewed items, and records why", () => {
    const { options, choice } = chooseRecommender(browsingTenant(), NOW, 10);
    expect(choice).toBeDefined();
    expect(options.weights.revisit).toBeGreaterThanOrEqual(1);
    const chosen = choice!.candidates.find((c) => c.name === choice!.chosen)!;
    for (const c of choice!.candidates) expect(chosen.hr + 0.25 * chosen.ndcg).toBeGreaterThanOrEqual(c.hr + 0.25 * c.ndcg - 1e-9);
    expect(chosen.hr).toBeGreaterThan(choice!.baselines.mostPopular);
    expect(choice!.validationCutoff).toBe(new Date(NOW - 10 * DAY_MS).toISOString());
  });

  test("keeps the default options, and says why, when too few customers bought anything new to judge on", () => {
    const few = browsingTenant().slice(0, 10);
    const result = chooseRecommender(few, NOW, 10);
    expect(result.choice).toBeUndefined();
    expect(result.note).toMatch(/too few customers/);
  });

  test("a model re-ranked for another popularity half-life is the one a fresh fit with that half-life gives", () => {
    const tenant = browsingTenant();
    // Views weigh nothing here, so customers with views only are left out of the model and its popularity.
    tenant.push({ customerId: "looker", events: [{ ts: NOW - DAY_MS, itemId: "item-7", kind: "view" }] });
    const options = { ...defaultRecommenderOptions, kindWeights: { ...defaultRecommenderOptions.kindWeights, view: 0 } };
    const reRanked = withPopularityHalfLife(buildRecommender(tenant, { ...options, popularityHalfLifeDays: 60 }), tenant, 5);
    const fresh = buildRecommender(tenant, { ...options, popularityHalfLifeDays: 5 });
    expect(Array.from(reRanked.popularity)).toEqual(Array.from(fresh.popularity));
    expect(Array.from(reRanked.buyers)).toEqual(Array.from(fresh.buyers));
    expect(reRanked.popularOrder).toEqual(fresh.popularOrder);
    expect(reRanked.options).toEqual(fresh.options);
    expect(Array.from(reRanked.popularity)).not.toEqual(Array.from(buildRecommender(tenant, { ...options, popularityHalfLifeDays: 60 }).popularity));
  });
});
