/**
 * The report's churn section: Lifeline's probabilities beside BG/NBD and recency, fitted in
 * the same run on the same history before the cutoff, against who really ordered nothing
 * within the horizon. Pure.
 */
import type { CustomerHistory } from "../../pipelines/churn-features";
import { intervalCoverage } from "../../pipelines/metrics";
import { bgnbdBaseline, recencyBaseline } from "./churn-baselines";
import { scoreChurnModel } from "./churn-scores";
import type { EvalContext } from "./eval-context";
import type { EvalReport } from "./eval-report";

/** The customers the system scored, with their labels. */
export function scoredChurn(ctx: EvalContext) {
  const { histories, labels } = ctx.truth.churn;
  const kept = histories.map((h, i) => ({ h, label: labels[i]! })).filter(({ h }) => ctx.insightOf(h.customerId));
  return { histories: kept.map((x) => x.h), labels: kept.map((x) => x.label) };
}

export function churnSection(ctx: EvalContext): Pick<EvalReport, "churn"> {
  const { cutoffMs, horizonDays } = ctx.run;
  const { histories, labels } = scoredChurn(ctx);
  const before = histories.map((h) => truncate(h, cutoffMs));
  const bgnbd = bgnbdBaseline(before, cutoffMs, horizonDays);
  const recency = recencyBaseline(before, cutoffMs, horizonDays);
  const learned = ctx.system.model.learned;
  const models = [
    scoreChurnModel("lifeline", `Lifeline (${learned ? "learned model" : "BG/NBD fallback"})`, histories.map((h) => ctx.insightOf(h.customerId)!.churn.probability), labels),
    scoreChurnModel("bgnbd-palive", "BG/NBD 1 − P(alive)", bgnbd.notAlive, labels),
    scoreChurnModel("bgnbd-nopurchase", "BG/NBD P(no purchase in horizon)", bgnbd.noPurchase, labels),
    scoreChurnModel("recency", "Recency only", recency.probabilities, labels, recency.days),
  ];
  const insights = histories.map((h) => ctx.insightOf(h.customerId)!.churn);
  const coverage = intervalCoverage(insights.map((c) => ({ probability: c.probability, low: c.interval.low, high: c.interval.high })), labels);
  const { artifacts } = ctx.system;
  return {
    churn: {
      customers: histories.length,
      churnRate: labels.reduce<number>((a, b) => a + b, 0) / labels.length,
      models,
      intervalCoverage: { level: insights[0]?.interval.level ?? 0.9, ...coverage },
      choice: artifacts.choice ?? null,
      uses: {
        features: artifacts.model?.featureNames ?? ["frequency", "recency_days", "days_since_first_purchase"],
        fittedSignals: Object.entries(artifacts.signals.effects)
          .filter(([, e]) => e.source === "fitted")
          .map(([kind, e]) => `${kind} (${e.logOdds} log-odds, ${e.rows} customers)`),
      },
    },
  };
}

const truncate = (h: CustomerHistory, cutoffMs: number): CustomerHistory => ({
  ...h,
  purchases: h.purchases.filter((p) => p.ts < cutoffMs),
  events: h.events.filter((e) => e.ts < cutoffMs),
});
