/**
 * The `predictions` of an insight: pipelines/customer-predictions.ts over the fitted
 * artifacts. Artifacts fitted before predictions existed get a stand-in population model
 * (prior rhythm, the customer's own order values) until the next refit.
 */
import type { CustomerHistory } from "../../pipelines/churn-features";
import { customerPredictions, type PredictionModel, type Predictions } from "../../pipelines/customer-predictions";
import { customerState } from "../../pipelines/prediction-features";
import { PRIOR_RHYTHM } from "../../pipelines/purchase-rhythm";
import type { ChurnArtifacts } from "./churn-artifacts";
import { fitSpendModel } from "./prediction-model";

export function insightPredictions(
  history: CustomerHistory,
  artifacts: Pick<ChurnArtifacts, "bgnbd" | "definition" | "predictions"> | undefined,
  asOfMs: number,
  currency?: string,
): Predictions {
  if (!artifacts) throw new Error("no fitted churn artifacts to predict with");
  const model = artifacts.predictions ?? standIn(history, asOfMs, artifacts.definition.horizonDays);
  return customerPredictions(artifacts.bgnbd, model, history, asOfMs, currency);
}

function standIn(history: CustomerHistory, asOfMs: number, horizonDays: number): PredictionModel {
  return { horizonDays, spend: fitSpendModel([customerState(history, asOfMs, horizonDays)]), rhythm: PRIOR_RHYTHM, corrections: {}, valuePercentiles: [] };
}
