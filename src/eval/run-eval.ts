/**
 * `bun run eval` for one data set: history before the cutoff through the running system,
 * every customer scored through the real inference path as of the cutoff, compared with what
 * happened after it, with baselines fitted in the same run on the same history.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DAY_MS } from "../../pipelines/bgnbd";
import type { CustomerHistory } from "../../pipelines/churn-features";
import { churnLabel } from "../inference/churn-model";
import type { Insight } from "../inference/insights";
import type { Logger } from "../log/logger";
import { bgnbdBaseline, recencyBaseline } from "./churn-baselines";
import { scoreChurnModel } from "./churn-scores";
import { scorePredictions } from "./prediction-scores";
import { cutoffInstant, sampleIds, type DatasetSpec } from "./datasets";
import type { EvalExample, EvalReport } from "./eval-report";
import { itemCooccurrence, K, mostPopular, recSplit, scoreRecs } from "./rec-scores";
import { runThroughSystem } from "./system-run";

export type EvalOptions = {
  spec: DatasetSpec;
  dataRoot: string;
  redisUrl: string;
  log: Logger;
  cutoff?: string;
  horizonDays?: number;
  /** customers to evaluate; undefined = the spec's default, 0 = all */
  sample?: number;
  env?: Record<string, string | undefined>;
};

export async function evaluateDataset(o: EvalOptions): Promise<EvalReport> {
  const started = performance.now();
  const { spec } = o;
  const cutoff = o.cutoff ?? spec.defaultCutoff;
  const cutoffMs = cutoffInstant(cutoff);
  const horizonDays = o.horizonDays ?? spec.defaultHorizonDays;
  const sample = o.sample === 0 ? undefined : (o.sample ?? spec.defaultSample);
  const log = o.log.child({ dataset: spec.name });

  const raw = await spec.load(o.dataRoot);
  // Customers = everyone with a purchase before the cutoff (Taobao recommendations: any event).
  const hasPurchaseBefore = (h: CustomerHistory) => h.purchases.some((p) => p.ts < cutoffMs);
  const eligible = new Set(raw.churn.filter(hasPurchaseBefore).map((h) => h.customerId));
  if (spec.recs && !spec.recs.needsPurchaseBefore) for (const h of raw.recs ?? []) if (h.events.some((e) => e.ts < cutoffMs)) eligible.add(h.customerId);
  const keep = sampleIds([...eligible], sample);
  const churnPopulation = raw.churn.filter((h) => keep.has(h.customerId) && hasPurchaseBefore(h));
  const recHistories = (raw.recs ?? []).filter((h) => keep.has(h.customerId));
  log.info({ eligible: eligible.size, sampled: keep.size }, "data set read");

  const sampleDir = mkdtempSync(join(tmpdir(), `lifeline-eval-${spec.name}-`));
  try {
    const files = spec.writeSample(o.dataRoot, keep, sampleDir);
    const system = await runThroughSystem({
      redisUrl: o.redisUrl,
      mapping: spec.mapping,
      files,
      cutoffMs,
      horizonDays,
      customerIds: [...keep].map((id) => spec.prefix + id),
      log,
      env: o.env,
    });
    log.info({ ...system.seconds, missing: system.missing.length }, "scored through the system");
    const insightOf = (rawId: string) => system.insights.get(spec.prefix + rawId);

    // --- churn ---------------------------------------------------------------------------------
    const definition = { horizonDays, basis: "purchase" as const, explicitCancellation: false };
    const scored = churnPopulation.filter((h) => insightOf(h.customerId));
    const labels = scored.map((h) => churnLabel(h, cutoffMs, definition));
    const before = scored.map((h) => truncate(h, cutoffMs));
    const bgnbd = bgnbdBaseline(before, cutoffMs, horizonDays);
    const recency = recencyBaseline(before, cutoffMs, horizonDays);
    const models = [
      scoreChurnModel("lifeline", `Lifeline (${system.model.learned ? "learned model" : "BG/NBD fallback"})`, scored.map((h) => insightOf(h.customerId)!.churn.probability), labels),
      scoreChurnModel("bgnbd-palive", "BG/NBD 1 − P(alive)", bgnbd.notAlive, labels),
      scoreChurnModel("bgnbd-nopurchase", "BG/NBD P(no purchase in horizon)", bgnbd.noPurchase, labels),
      scoreChurnModel("recency", "Recency only", recency.probabilities, labels, recency.days),
    ];

    // --- behavioural predictions ----------------------------------------------------------------
    const { artifacts } = system;
    const predictions = artifacts.predictions
      ? scorePredictions({ histories: scored, cutoffMs, horizonDays, predictionsOf: (id) => insightOf(id)?.predictions, lifeline: { bgnbd: artifacts.bgnbd, model: artifacts.predictions } })
      : undefined;

    // --- recommendations -------------------------------------------------------------------------
    let recs: EvalReport["recs"];
    let split: ReturnType<typeof recSplit> | undefined;
    if (spec.recs && raw.recs) {
      split = recSplit(recHistories, cutoffMs, horizonDays * DAY_MS, spec.recs.needsPurchaseBefore);
      const popular = mostPopular(split.train);
      const cooc = itemCooccurrence(split.train, spec.recs.cooccurrenceKinds);
      const s = split;
      const methods = [
        scoreRecs("lifeline", "Lifeline", s, s.cases.map((c) => (insightOf(c.customer.customerId)?.recommendations ?? []).map((r) => r.itemId))),
        scoreRecs("most-popular", "Most popular", s, s.cases.map((c) => popular(c.customer))),
        scoreRecs("cooccurrence", "Item co-occurrence (cosine)", s, s.cases.map((c) => cooc(c.customer))),
      ];
      const [lifeline, pop, co] = methods as [(typeof methods)[0], (typeof methods)[0], (typeof methods)[0]];
      recs = {
        k: K,
        evaluated: s.cases.length,
        catalogue: s.catalogue.size,
        methods,
        hrRatioToMostPopular: lifeline.hr / pop.hr,
        meetsTarget: lifeline.hr >= 1.5 * pop.hr && lifeline.hr > co.hr,
        ...(spec.name === "online-retail" && cutoff === "2011-09-10" && horizonDays === 90
          ? { reference: { hrMostPopular: 0.311, hrCooccurrence: 0.429, ndcgMostPopular: 0.048, ndcgCooccurrence: 0.092 } }
          : {}),
      };
    }

    const examples = pickExamples(scored, labels, insightOf, split);
    return {
      dataset: spec.name,
      note: spec.note,
      generatedAt: new Date().toISOString(),
      cutoff,
      cutoffIso: new Date(cutoffMs).toISOString(),
      horizonDays,
      sample: { requested: sample ?? null, eligible: eligible.size, customers: keep.size },
      system: {
        imported: pick(system.import, ["rows", "events", "accepted", "duplicates", "rejected", "skipped"]),
        profiles: system.profiles,
        missing: system.missing.length,
        model: system.model,
        seconds: system.seconds,
      },
      churn: { customers: scored.length, churnRate: labels.reduce<number>((a, b) => a + b, 0) / labels.length, models },
      ...(predictions ? { predictions } : {}),
      ...(recs ? { recs } : {}),
      examples,
      runtimeSeconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    rmSync(sampleDir, { recursive: true, force: true });
  }
}

const truncate = (h: CustomerHistory, cutoffMs: number): CustomerHistory => ({
  ...h,
  purchases: h.purchases.filter((p) => p.ts < cutoffMs),
  events: h.events.filter((e) => e.ts < cutoffMs),
});

function pick<T extends Record<string, unknown>, K extends keyof T>(o: T, keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, o[k]])) as Pick<T, K>;
}

/** The two riskiest and the two safest customers that have drivers, with what they went on to do. */
function pickExamples(
  scored: CustomerHistory[],
  labels: number[],
  insightOf: (rawId: string) => Insight | undefined,
  split: { cases: { customer: { customerId: string }; relevant: Set<string> }[] } | undefined,
): EvalExample[] {
  const boughtAfter = new Map(split?.cases.map((c) => [c.customer.customerId, [...c.relevant]]) ?? []);
  const rows = scored
    .map((h, i) => ({ h, label: labels[i]!, insight: insightOf(h.customerId)! }))
    .filter((r) => r.insight.churn.drivers.length > 0)
    .sort((a, b) => b.insight.churn.probability - a.insight.churn.probability);
  const chosen = rows.length <= 4 ? rows : [rows[0]!, rows[1]!, rows[rows.length - 2]!, rows[rows.length - 1]!];
  return chosen.map(({ h, label, insight }) => ({
    customerId: insight.customerId,
    churned: label === 1,
    probability: insight.churn.probability,
    riskTier: insight.churn.riskTier,
    drivers: insight.churn.drivers.map((d) => ({ reason: d.reason, feature: d.feature, weight: d.weight, evidence: d.evidence.slice(0, 3) })),
    recommendations: insight.recommendations.slice(0, 5).map((r) => ({ itemId: r.itemId, ...(r.name ? { name: r.name } : {}), reason: r.reason })),
    boughtAfter: (boughtAfter.get(h.customerId) ?? []).slice(0, 8),
    strategy: insight.strategy.objective,
  }));
}
