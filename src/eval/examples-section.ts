/** The report's example customers: any asked for by id, then the two riskiest and the two safest that have drivers, with what they went on to do. Pure. */
import { scoredChurn } from "./churn-section";
import type { EvalContext } from "./eval-context";
import type { EvalReport } from "./eval-report";

export function examplesSection(ctx: EvalContext): Pick<EvalReport, "examples"> {
  const { histories, labels } = scoredChurn(ctx);
  const boughtAfter = new Map(ctx.truth.recs?.cases.map((c) => [c.customer.customerId, [...c.relevant]]) ?? []);
  const rows = histories
    .map((h, i) => ({ h, label: labels[i]!, insight: ctx.insightOf(h.customerId)! }))
    .filter((r) => r.insight.churn.drivers.length > 0)
    .sort((a, b) => b.insight.churn.probability - a.insight.churn.probability);
  const picked = rows.length <= 4 ? rows : [rows[0]!, rows[1]!, rows[rows.length - 2]!, rows[rows.length - 1]!];
  // Customers asked for by id come first (with or without drivers), then the picks.
  const asked = (ctx.run.examples ?? []).flatMap((id) => {
    const i = histories.findIndex((h) => h.customerId === id);
    return i < 0 ? [] : [{ h: histories[i]!, label: labels[i]!, insight: ctx.insightOf(id)! }];
  });
  const chosen = [...asked, ...picked.filter((p) => !asked.some((a) => a.h.customerId === p.h.customerId))];
  return {
    examples: chosen.map(({ h, label, insight }) => ({
      customerId: insight.customerId,
      churned: label === 1,
      probability: insight.churn.probability,
      interval: { low: insight.churn.interval.low, high: insight.churn.interval.high },
      riskTier: insight.churn.riskTier,
      mode: insight.churn.mode,
      drivers: insight.churn.drivers.map((d) => ({ reason: d.reason, feature: d.feature, contribution: d.contribution, evidence: d.evidence.slice(0, 3) })),
      protective: insight.churn.protective.map((d) => ({ reason: d.reason, feature: d.feature, contribution: d.contribution })),
      recommendations: insight.recommendations.slice(0, 5).map((r) => ({ itemId: r.itemId, ...(r.name ? { name: r.name } : {}), reason: r.reason })),
      boughtAfter: (boughtAfter.get(h.customerId) ?? []).slice(0, 8),
      strategy: insight.strategy.objective,
    })),
  };
}
