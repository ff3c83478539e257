import type { Config } from "../config";
import type { ChurnDefinition } from "./churn-model";

export const churnDefinition = (config: Pick<Config, "LIFELINE_CHURN_HORIZON_DAYS" | "LIFELINE_CHURN_BASIS" | "LIFELINE_CHURN_EXPLICIT_CANCELLATION">): ChurnDefinition => ({
  horizonDays: config.LIFELINE_CHURN_HORIZON_DAYS,
  basis: config.LIFELINE_CHURN_BASIS,
  explicitCancellation: config.LIFELINE_CHURN_EXPLICIT_CANCELLATION,
});
