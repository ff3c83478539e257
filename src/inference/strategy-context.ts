/**
 * What the strategy writer knows about one customer: assembled by the inference job from the
 * profile, the churn prediction and retrieval, and read by both the prompt and the fallback.
 */
import type { RiskTier } from "./churn-prediction.ts";
import type { CustomerValue } from "./offer-sizing.ts";

export type StrategyEvidence = { messageId: string; ts: number; type: string; name?: string };

export type StrategyDriver = {
  /** How a marketer reads it, e.g. "Has had failed payments". */
  reason: string;
  /** The churn-model feature behind it (e.g. "failed_payments"); the fallback plays key on it when present. */
  feature?: string;
  /** Log-odds it adds to the churn probability; larger pushes risk up more. */
  contribution: number;
  evidence: StrategyEvidence[];
};

export type StrategyContext = {
  customerId: string;
  profileSummary: {
    /** Lifecycle stage (pipelines/lifecycle-stage.ts), e.g. "post_conversion". */
    stage: string;
    orders: number;
    revenue: number;
    currency?: string;
    tenureDays: number;
    /** ms since epoch; absent when the customer never bought. */
    lastPurchaseAt?: number;
    /** e.g. "3 sessions and 1 support ticket in the last 14 days". */
    recentActivity: string;
  };
  churn: { probability: number; riskTier: RiskTier; drivers: StrategyDriver[] };
  /** The customer's own events most relevant to the risk, from vector memory. */
  relevantEvents: { ts: number | string; text: string; stage?: string; messageId?: string }[];
  similarCustomersWhoStayed: { customerId?: string; whatWorked: string }[];
  recommendations?: { itemId: string; name?: string; reason: string }[];
  /** Predicted value over the horizon: offers are sized by it (offer-sizing.ts). */
  value?: CustomerValue;
};
