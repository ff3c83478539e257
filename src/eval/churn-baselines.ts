/**
 * Churn baselines fitted on the same history before the cutoff that Lifeline received: BG/NBD
 * (P(alive), and P(no purchase within the horizon)) and recency alone. Pure.
 */
import { DAY_MS, fitBgnbd, pAlive, pNoPurchase, repeatSummary, WEEK_MS } from "../../pipelines/bgnbd";
import type { CustomerHistory } from "../../pipelines/churn-features";
import { fitPlatt } from "../inference/churn-model";

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
const purchaseTimes = (h: CustomerHistory) => h.purchases.map((p) => p.ts);

/** BG/NBD fitted on everyone's repeat purchases before the cutoff; churn = 1 − P(alive), and P(no purchase in the horizon). */
export function bgnbdBaseline(histories: readonly CustomerHistory[], cutoffMs: number, horizonDays: number) {
  const summaries = histories.map((h) => repeatSummary(purchaseTimes(h), cutoffMs));
  const params = fitBgnbd(summaries.filter((s) => s !== null)).params;
  const horizonWeeks = (horizonDays * DAY_MS) / WEEK_MS;
  return {
    params,
    notAlive: summaries.map((s) => (s ? 1 - pAlive(params, s.x, s.tx, s.T) : 1)),
    noPurchase: summaries.map((s) => (s ? pNoPurchase(params, horizonWeeks, s.x, s.tx, s.T) : 1)),
  };
}

const recencyDays = (h: CustomerHistory, asOfMs: number) => {
  let last = Number.NEGATIVE_INFINITY;
  for (const p of h.purchases) if (p.ts < asOfMs && p.ts > last) last = p.ts;
  return (asOfMs - last) / DAY_MS;
};

/**
 * Days since the last purchase ranks the customers; a Platt scaling of log(1 + days), fitted one
 * horizon earlier (outcomes known by the cutoff), turns it into a probability.
 */
export function recencyBaseline(histories: readonly CustomerHistory[], cutoffMs: number, horizonDays: number) {
  const earlierMs = cutoffMs - horizonDays * DAY_MS;
  const earlier = histories.filter((h) => h.purchases.some((p) => p.ts < earlierMs));
  const labels = earlier.map((h) => (h.purchases.some((p) => p.ts >= earlierMs && p.ts < cutoffMs) ? 0 : 1));
  const platt = fitPlatt(earlier.map((h) => Math.log1p(recencyDays(h, earlierMs))), labels);
  const days = histories.map((h) => recencyDays(h, cutoffMs));
  return { days, probabilities: days.map((d) => sigmoid(platt.slope * Math.log1p(d) + platt.intercept)), platt, fittedOn: earlier.length };
}
