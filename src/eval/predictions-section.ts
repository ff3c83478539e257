/**
 * The report's behavioural-predictions section: Lifeline's expected purchases and spend over the
 * horizon against what customers did, beside plain BG/NBD + Gamma-Gamma and "same as the last
 * period" (src/eval/prediction-scores.ts). Pure.
 */
import { scoredChurn } from "./churn-section";
import type { EvalContext } from "./eval-context";
import type { EvalReport } from "./eval-report";
import { scorePredictions } from "./prediction-scores";

export function predictionsSection(ctx: EvalContext): Pick<EvalReport, "predictions"> {
  const { artifacts } = ctx.system;
  if (!artifacts.predictions) return {};
  const { histories } = scoredChurn(ctx);
  return {
    predictions: scorePredictions({
      histories,
      cutoffMs: ctx.run.cutoffMs,
      horizonDays: ctx.run.horizonDays,
      predictionsOf: (id) => ctx.insightOf(id)?.predictions,
      lifeline: { bgnbd: artifacts.bgnbd, model: artifacts.predictions },
    }),
  };
}
