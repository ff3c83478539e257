/**
 * Recommendation evaluation with a time split (`bun bench/eval-recs.ts`).
 *
 * Protocol, per data set: models see only events before the cutoff. Evaluated customers have
 * history before the cutoff (Online Retail: a purchase; Taobao: any event) and buy at least one
 * item in the horizon after it that they had not bought before; those new items are the
 * targets. HR@10 = share of evaluated customers with a target in their top 10; NDCG@10 with
 * binary relevance; coverage = share of the pre-cutoff catalogue shown to anyone.
 *
 * Lifeline's options are chosen exactly as a refit chooses them (src/inference/recommender-choice.ts:
 * presets, then a short coordinate ascent) on a validation split that ends at the cutoff (the
 * horizon before it is the pseudo-future), never on the test window; then the model is refitted
 * on everything before the cutoff. Baselines, fitted on the same data:
 * most-popular (distinct buyers) and item co-occurrence (cosine over customers, summed over
 * the customer's items). Writes bench/results/recs-eval.json.
 */
import { mkdir } from "node:fs/promises";
import { catalogueCoverage, hitRateAtK, meanNdcgAtK, type RankedCase } from "../pipelines/rec-metrics.ts";
import {
  buildRecommender,
  DAY_MS,
  recommend,
  type RecHistory,
  type Recommender,
} from "../pipelines/recommend.ts";
import { itemCooccurrence, mostPopular, recSplit, type RecSplit } from "../src/eval/rec-scores.ts";
import { tuneRecommender } from "../src/inference/recommender-choice.ts";
import { loadRetailItemHistories } from "../src/eval/loaders/load-retail-items.ts";
import { loadTaobaoHistories } from "../src/eval/loaders/load-taobao.ts";
import { sharedData } from "../scripts/lib/shared-data.ts";
import { parseCli } from "../src/process/cli";

parseCli({ command: "bun run eval:recs", description: "Recommendations offline on Online Retail and Taobao (HR@10, NDCG@10, coverage) vs most-popular and item co-occurrence; writes bench/results/recs-eval.json." });

const K = 10;

type DatasetSpec = {
  name: string;
  load: () => Promise<RecHistory[]>;
  cutoffMs: number;
  horizonMs: number;
  /** evaluated customers must have bought before the cutoff (else any event suffices) */
  needsPurchaseBefore: boolean;
  /** which events make the co-occurrence baseline's customer × item matrix */
  cooccurrenceKinds: ReadonlySet<RecHistory["events"][number]["kind"]>;
  protocol: string;
  reference?: Record<string, number>;
};

const DATASETS: DatasetSpec[] = [
  {
    name: "online-retail",
    load: () => loadRetailItemHistories(sharedData("online-retail", "by-day")),
    cutoffMs: Date.parse("2011-09-10T00:00:00Z"),
    horizonMs: 90 * DAY_MS,
    needsPurchaseBefore: true,
    cooccurrenceKinds: new Set(["purchase"]),
    protocol:
      "cutoff 2011-09-10, 90-day horizon; registered customers, no cancellations/returns/fee codes; item = StockCode; validation: cutoff 2011-06-12, 90 days",
    reference: { hrMostPopular: 0.311, hrCooccurrence: 0.429, ndcgMostPopular: 0.048, ndcgCooccurrence: 0.092 },
  },
  {
    name: "taobao",
    load: () => loadTaobaoHistories(sharedData("taobao-userbehavior", "UserBehavior_814users.csv")),
    cutoffMs: Date.parse("2017-12-02T00:00:00+08:00"),
    horizonMs: 2 * DAY_MS,
    needsPurchaseBefore: false,
    cooccurrenceKinds: new Set(["view", "cart", "wishlist", "purchase"]),
    protocol:
      "cutoff 2017-12-02 00:00 UTC+8, last 2 days as the future, buy events as targets, pv/cart/fav/buy before as signals; validation: cutoff 2017-11-30, 2 days",
  },
];

type Scores = { hr: number; ndcg: number; coverage: number; msPerCustomer: number };

function score(split: RecSplit, rank: (customer: RecHistory) => string[]): Scores {
  const started = performance.now();
  const lists = split.cases.map((c) => rank(c.customer));
  const msPerCustomer = (performance.now() - started) / Math.max(1, split.cases.length);
  const cases: RankedCase[] = split.cases.map((c, i) => ({ recommended: lists[i]!, relevant: c.relevant }));
  return {
    hr: hitRateAtK(cases, K),
    ndcg: meanNdcgAtK(cases, K),
    coverage: catalogueCoverage(lists, split.catalogue, K),
    msPerCustomer,
  };
}

const lifeline = (model: Recommender) => (customer: RecHistory) => recommend(model, customer, K).map((r) => r.itemId);

const fmt = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : String(x));
const started = performance.now();
const results: Record<string, unknown> = {};
for (const spec of DATASETS) {
  const histories = await spec.load();
  const validation = recSplit(histories, spec.cutoffMs - spec.horizonMs, spec.horizonMs, spec.needsPurchaseBefore);
  const test = recSplit(histories, spec.cutoffMs, spec.horizonMs, spec.needsPurchaseBefore);
  console.log(`\n${spec.name}: validation ${validation.cases.length} customers, test ${test.cases.length} customers`);
  const { options, choice } = tuneRecommender(validation, spec.cutoffMs - spec.horizonMs, spec.horizonMs / DAY_MS);
  console.log(`  chosen ${choice.chosen}: ${choice.reason}`);
  const buildStarted = performance.now();
  const model = buildRecommender(test.train, options);
  const buildMs = performance.now() - buildStarted;
  const methods = {
    lifeline: score(test, lifeline(model)),
    mostPopular: score(test, mostPopular(test.train)),
    cooccurrence: score(test, itemCooccurrence(test.train, [...spec.cooccurrenceKinds])),
  };
  const sources: Record<string, number> = {};
  for (const c of test.cases) for (const r of recommend(model, c.customer, K)) sources[r.source] = (sources[r.source] ?? 0) + 1;
  console.log("method         HR@10   NDCG@10  coverage  ms/customer");
  for (const [name, s] of Object.entries(methods))
    console.log(`${name.padEnd(14)} ${fmt(s.hr)}   ${fmt(s.ndcg, 4)}   ${fmt(s.coverage)}     ${fmt(s.msPerCustomer, 2)}`);
  const ratio = methods.lifeline.hr / methods.mostPopular.hr;
  console.log(`HR@10 Lifeline / most-popular = ${fmt(ratio, 2)}× (target ≥ 1.5×); vs co-occurrence ${fmt(methods.lifeline.hr - methods.cooccurrence.hr)}`);
  results[spec.name] = {
    protocol: spec.protocol,
    customers: { train: test.train.length, evaluated: test.cases.length, validationEvaluated: validation.cases.length },
    catalogue: test.catalogue.size,
    methods,
    hrRatioToMostPopular: ratio,
    meetsTarget: ratio >= 1.5 && methods.lifeline.hr > methods.cooccurrence.hr,
    buildMs,
    topTenSources: sources,
    tunedOptions: options,
    choice,
    ...(spec.reference ? { reference: spec.reference } : {}),
  };
}
await mkdir("bench/results", { recursive: true });
await Bun.write(
  "bench/results/recs-eval.json",
  JSON.stringify({ k: K, generatedAt: new Date().toISOString(), runtimeSec: (performance.now() - started) / 1000, datasets: results }, (_, v) =>
    v === Infinity ? "Infinity" : v, 2),
);
console.log(`\nwrote bench/results/recs-eval.json in ${fmt((performance.now() - started) / 1000, 0)} s`);
