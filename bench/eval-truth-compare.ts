/**
 * Does reading what happened through the import mapping (src/eval/mapped-history.ts, what
 * `bun run eval` does for any input) give the same truth as the raw-file loaders the eval used
 * before (src/eval/loaders/)? Per built-in data set, at its default window: the churn
 * population and labels, the recommendation cases and targets, and the baselines scored on
 * each (no running system needed). `bun bench/eval-truth-compare.ts`; writes
 * bench/results/eval-truth-compare.json.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DAY_MS } from "../pipelines/bgnbd";
import type { CustomerHistory } from "../pipelines/churn-features";
import { auc } from "../pipelines/metrics";
import type { RecHistory, RecKind } from "../pipelines/recommend";
import { churnLabel } from "../src/inference/churn-model";
import { builtinMappings } from "../src/import/builtin-mappings";
import { listInputFiles } from "../src/import/read-rows";
import { bgnbdBaseline, recencyBaseline } from "../src/eval/churn-baselines";
import { cutoffInstant } from "../src/eval/eval-args";
import { datasetSpecs, EVAL_DATASETS, type EvalDatasetName } from "../src/eval/datasets";
import { evalPopulation, evalTruth, type EvalTruth } from "../src/eval/eval-truth";
import { loadCdnow } from "../src/eval/loaders/load-cdnow";
import { loadOnlineRetail } from "../src/eval/loaders/load-online-retail";
import { loadRetailItemHistories } from "../src/eval/loaders/load-retail-items";
import { loadTaobaoHistories } from "../src/eval/loaders/load-taobao";
import { readMappedHistories } from "../src/eval/mapped-history";
import { itemCooccurrence, mostPopular, recSplit, scoreRecs, type RecSplit } from "../src/eval/rec-scores";
import { sharedDataDir } from "../scripts/lib/shared-data";

const root = sharedDataDir();

/** What the loaders say, in the eval's shape (customer ids with the built-in mapping's prefix). */
async function loaderTruth(name: EvalDatasetName, cutoffMs: number, horizonDays: number): Promise<{ truth: EvalTruth; cooccurrenceKinds: RecKind[] }> {
  const prefixed = <T extends { customerId: string }>(prefix: string, xs: T[]) => xs.map((x) => ({ ...x, customerId: prefix + x.customerId }));
  let churn: CustomerHistory[];
  let recs: RecHistory[] | undefined;
  let needsPurchaseBefore = true;
  let cooccurrenceKinds: RecKind[] = ["purchase"];
  if (name === "cdnow") churn = prefixed("cdnow-", await loadCdnow(join(root, "cdnow/CDNOW_master.txt")));
  else if (name === "online-retail") {
    churn = prefixed("retail-", await loadOnlineRetail(join(root, "online-retail/by-day")));
    recs = prefixed("retail-", await loadRetailItemHistories(join(root, "online-retail/by-day")));
  } else {
    recs = prefixed("taobao-", await loadTaobaoHistories(join(root, "taobao-userbehavior/UserBehavior_814users.csv")));
    churn = recs.map((h) => ({
      customerId: h.customerId,
      firstSeenMs: h.events[0]?.ts ?? 0,
      purchases: h.events.filter((e) => e.kind === "purchase").map((e, i) => ({ ts: e.ts, amount: 0, messageId: `${h.customerId}-${i}` })),
      events: [],
    }));
    needsPurchaseBefore = false;
    cooccurrenceKinds = ["view", "cart", "wishlist", "purchase"];
  }
  const definition = { horizonDays, basis: "purchase" as const, explicitCancellation: false };
  const histories = churn.filter((h) => h.purchases.some((p) => p.ts < cutoffMs));
  return {
    truth: {
      churn: { histories, labels: histories.map((h) => churnLabel(h, cutoffMs, definition)) },
      ...(recs ? { recs: recSplit(recs, cutoffMs, horizonDays * DAY_MS, needsPurchaseBefore) } : {}),
    },
    cooccurrenceKinds,
  };
}

function churnFigures(t: EvalTruth, cutoffMs: number, horizonDays: number) {
  const { histories, labels } = t.churn;
  const before = histories.map((h) => ({ ...h, purchases: h.purchases.filter((p) => p.ts < cutoffMs) }));
  const bgnbd = bgnbdBaseline(before, cutoffMs, horizonDays);
  const recency = recencyBaseline(before, cutoffMs, horizonDays);
  return {
    customers: histories.length,
    churnRate: labels.reduce<number>((a, b) => a + b, 0) / labels.length,
    aucBgnbdNoPurchase: auc(bgnbd.noPurchase, labels),
    aucRecency: auc(recency.days, labels),
  };
}

function recFigures(split: RecSplit | undefined, kinds: readonly RecKind[]) {
  if (!split) return undefined;
  const popular = mostPopular(split.train);
  const cooc = itemCooccurrence(split.train, kinds);
  return {
    cases: split.cases.length,
    catalogue: split.catalogue.size,
    targets: split.cases.reduce((n, c) => n + c.relevant.size, 0),
    mostPopular: scoreRecs("most-popular", "", split, split.cases.map((c) => popular(c.customer))),
    cooccurrence: scoreRecs("cooccurrence", "", split, split.cases.map((c) => cooc(c.customer))),
  };
}

function differences(mapped: EvalTruth, loaded: EvalTruth) {
  const labelOf = (t: EvalTruth) => new Map(t.churn.histories.map((h, i) => [h.customerId, t.churn.labels[i]!]));
  const [a, b] = [labelOf(mapped), labelOf(loaded)];
  const onlyMapped = [...a.keys()].filter((id) => !b.has(id));
  const onlyLoaded = [...b.keys()].filter((id) => !a.has(id));
  const labelsDiffer = [...a].filter(([id, y]) => b.has(id) && b.get(id) !== y).map(([id]) => id);
  const casesOf = (t: EvalTruth) => new Map(t.recs?.cases.map((c) => [c.customer.customerId, c.relevant]) ?? []);
  const [ca, cb] = [casesOf(mapped), casesOf(loaded)];
  const targetsDiffer = [...ca].filter(([id, r]) => cb.has(id) && (r.size !== cb.get(id)!.size || [...r].some((x) => !cb.get(id)!.has(x))));
  const extraTargets = new Map<string, number>();
  for (const [id, r] of ca) for (const item of r) if (!cb.get(id)?.has(item)) extraTargets.set(item, (extraTargets.get(item) ?? 0) + 1);
  return {
    churn: { onlyMapped: onlyMapped.length, onlyLoaded: onlyLoaded.length, labelsDiffer: labelsDiffer.length, examples: [...onlyMapped, ...onlyLoaded, ...labelsDiffer].slice(0, 5) },
    recs: {
      casesOnlyMapped: [...ca.keys()].filter((id) => !cb.has(id)).length,
      casesOnlyLoaded: [...cb.keys()].filter((id) => !ca.has(id)).length,
      targetsDiffer: targetsDiffer.length,
      /** items that are targets only in the mapped reading, by how many customers */
      extraTargets: [...extraTargets].sort((x, y) => y[1] - x[1]).slice(0, 10),
    },
  };
}

const out: Record<string, unknown> = {};
const scratch = mkdtempSync(join(tmpdir(), "lifeline-truth-compare-"));
try {
  for (const name of EVAL_DATASETS) {
    const spec = datasetSpecs[name];
    const cutoffMs = cutoffInstant(spec.defaultCutoff);
    const h = spec.defaultHorizonDays;
    const mapping = builtinMappings[name]!;
    const histories = await readMappedHistories(mapping, listInputFiles(join(root, mapping.defaultInput!), mapping.extensions), { maxEventBytes: 32 * 1024, futureToleranceMs: 23 * 3_600_000 }, join(scratch, `${name}.rejects.jsonl`));
    const population = evalPopulation(histories, cutoffMs);
    const mapped = evalTruth(histories, new Set(population.eligible), cutoffMs, h);
    const loaded = await loaderTruth(name, cutoffMs, h);
    const result = {
      cutoff: new Date(cutoffMs).toISOString(),
      horizonDays: h,
      eligible: population.eligible.length,
      mapped: { churn: churnFigures(mapped, cutoffMs, h), recs: recFigures(mapped.recs, ["view", "cart", "wishlist", "purchase"]) },
      loaders: { churn: churnFigures(loaded.truth, cutoffMs, h), recs: recFigures(loaded.truth.recs, loaded.cooccurrenceKinds) },
      differences: differences(mapped, loaded.truth),
    };
    out[name] = result;
    process.stdout.write(`${name}: ${JSON.stringify(result, (k, v) => (typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v), 2)}\n`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
writeFileSync(new URL("./results/eval-truth-compare.json", import.meta.url), JSON.stringify({ generatedAt: new Date().toISOString(), ...out }, null, 2) + "\n");
