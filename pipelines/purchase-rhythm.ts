/**
 * A customer's own buying rhythm: when their next order is due, from the gaps between their
 * past orders, shrunk toward the population's while they have few. Pure math.
 *
 * Gaps are counted in days between distinct purchase days. Their logarithms are normal
 * around the customer's own level μᵢ with spread σᵢ; levels vary across customers as
 * N(μ₀, τ²), and σᵢ² is pooled with the population's σ² as if the population added
 * `PRIOR_GAPS` gaps of its own. μ₀, τ² and σ² are fitted by the method of moments.
 */
import { z } from "zod";
import { normalQuantile, normalUpperTail } from "./normal.ts";

export const rhythmParamsSchema = z.object({
  /** Mean log gap (days) across customers. */
  mu: z.number(),
  /** Variance of customers' own mean log gap around `mu`. */
  tau2: z.number().positive(),
  /** Variance of one customer's log gaps around their own mean. */
  sigma2: z.number().positive(),
  /** Customers with at least one gap it was fitted on. */
  customers: z.number().int().nonnegative(),
});
export type RhythmParams = z.infer<typeof rhythmParamsSchema>;

/** Weight of the population's gap spread in a customer's own, in gaps. */
const PRIOR_GAPS = 4;
const MIN_VARIANCE = 0.01;
/** Used while nobody has bought twice: a month between orders, give or take a factor of e. */
export const PRIOR_RHYTHM: RhythmParams = { mu: Math.log(30), tau2: 0.5, sigma2: 0.5, customers: 0 };

/** Gaps in days between successive distinct UTC purchase days. */
export function purchaseDayGaps(purchaseDays: readonly number[]): number[] {
  const days = [...new Set(purchaseDays)].sort((a, b) => a - b);
  return days.slice(1).map((d, i) => d - days[i]!);
}

export function fitRhythm(gapsByCustomer: readonly (readonly number[])[]): RhythmParams {
  const own = gapsByCustomer.filter((g) => g.length > 0).map((gaps) => {
    const logs = gaps.map((g) => Math.log(Math.max(g, 1)));
    const mean = logs.reduce((s, v) => s + v, 0) / logs.length;
    return { k: logs.length, mean, ss: logs.reduce((s, v) => s + (v - mean) ** 2, 0) };
  });
  if (own.length < 2) return PRIOR_RHYTHM;
  const withinDf = own.reduce((s, o) => s + o.k - 1, 0);
  const sigma2 = withinDf > 0 ? Math.max(MIN_VARIANCE, own.reduce((s, o) => s + o.ss, 0) / withinDf) : PRIOR_RHYTHM.sigma2;
  const mu = own.reduce((s, o) => s + o.mean, 0) / own.length;
  const between = own.reduce((s, o) => s + (o.mean - mu) ** 2, 0) / (own.length - 1);
  const noise = own.reduce((s, o) => s + sigma2 / o.k, 0) / own.length;
  return { mu, tau2: Math.max(MIN_VARIANCE, between - noise), sigma2, customers: own.length };
}

/** The customer's next gap (days): log-normal with this location and scale. */
export function nextGapDistribution(params: RhythmParams, gaps: readonly number[]): { location: number; scale: number } {
  const logs = gaps.map((g) => Math.log(Math.max(g, 1)));
  const k = logs.length;
  if (k === 0) return { location: params.mu, scale: Math.sqrt(params.tau2 + params.sigma2) };
  const mean = logs.reduce((s, v) => s + v, 0) / k;
  const ss = logs.reduce((s, v) => s + (v - mean) ** 2, 0);
  const sigma2 = (PRIOR_GAPS * params.sigma2 + ss) / (PRIOR_GAPS + k - 1);
  const precision = 1 / params.tau2 + k / sigma2;
  const location = (params.mu / params.tau2 + (k * mean) / sigma2) / precision;
  return { location, scale: Math.sqrt(sigma2 + 1 / precision) };
}

/** The gap (days) below which a share `u` of next gaps falls. */
export const gapQuantile = ({ location, scale }: { location: number; scale: number }, u: number): number =>
  Math.exp(location + scale * normalQuantile(u));

/**
 * The gap (days) below which a share `u` of next gaps falls, knowing it is longer than
 * `waitedDays` (no order since the last one): P(G ≤ g | G > w) = u.
 */
export function gapQuantileAfterWaiting({ location, scale }: { location: number; scale: number }, waitedDays: number, u: number): number {
  const beyond = waitedDays > 0 ? normalUpperTail((Math.log(waitedDays) - location) / scale) : 1;
  // Far past their rhythm the tail underflows; the smallest double keeps the quantile finite.
  const tail = Math.max((1 - u) * beyond, 1e-300);
  return Math.max(waitedDays, Math.exp(location + scale * -normalQuantile(tail)));
}
