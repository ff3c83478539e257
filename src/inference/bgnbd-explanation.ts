/**
 * BG/NBD's P(no purchase in the horizon) explained against a reference customer: its log-odds
 * depend on three facts (orders so far, days since the last order, days since the first), so
 * the exact Shapley value of each is an average over their 3! orders, and the three add up to
 * the customer's log-odds minus the reference's. Pure.
 */
import { pNoPurchase, type BgnbdParams } from "../../pipelines/bgnbd";
import type { FeatureName } from "../../pipelines/churn-features";
import { logit } from "../../pipelines/log-odds";

export const BGNBD_INPUTS = ["frequency", "recency_days", "days_since_first_purchase"] as const satisfies readonly FeatureName[];
type Inputs = Record<(typeof BGNBD_INPUTS)[number], number>;

/** logit P(no purchase in `horizonDays`) of a buyer with `orders` orders, the last `recency` days ago, the first `first` days ago. */
function logOdds(params: BgnbdParams, horizonDays: number, v: Inputs): number {
  const x = Math.max(0, Math.round(v.frequency) - 1);
  const T = Math.max(0, v.days_since_first_purchase) / 7;
  const tx = x > 0 ? Math.max(0, Math.min(v.days_since_first_purchase, v.days_since_first_purchase - v.recency_days)) / 7 : 0;
  return logit(pNoPurchase(params, horizonDays / 7, x, tx, T));
}

export function explainBgnbd(
  params: BgnbdParams,
  horizonDays: number,
  customer: Inputs,
  reference: Inputs,
): { logOdds: number; referenceLogOdds: number; contributions: Map<FeatureName, number> } {
  const n = BGNBD_INPUTS.length;
  const value = new Map<number, number>();
  const at = (mask: number) => {
    let v = value.get(mask);
    if (v === undefined) {
      const mixed = Object.fromEntries(BGNBD_INPUTS.map((f, i) => [f, mask & (1 << i) ? customer[f] : reference[f]])) as Inputs;
      v = logOdds(params, horizonDays, mixed);
      value.set(mask, v);
    }
    return v;
  };
  const fact = [1, 1, 2, 6];
  const contributions = new Map<FeatureName, number>();
  BGNBD_INPUTS.forEach((f, i) => {
    let phi = 0;
    for (let mask = 0; mask < 1 << n; mask++) {
      if (mask & (1 << i)) continue;
      const size = popcount(mask);
      phi += ((fact[size]! * fact[n - size - 1]!) / fact[n]!) * (at(mask | (1 << i)) - at(mask));
    }
    contributions.set(f, phi);
  });
  return { logOdds: at((1 << n) - 1), referenceLogOdds: at(0), contributions };
}

const popcount = (m: number) => (m & 1) + ((m >> 1) & 1) + ((m >> 2) & 1);
