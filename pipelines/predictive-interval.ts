/**
 * How Lifeline turns a predictive distribution into a 90 % interval. Pure.
 *
 * Normally the interval runs from the 5th to the 95th percentile. When the customer may well
 * do nothing (zero holds at least 5 % of the probability), it starts at zero and runs to the
 * 90th percentile instead: that interval is shorter and still holds 90 %. For counts each
 * end is the whole number whose cumulative probability comes nearest its percentile, so an
 * interval holds about 90 % (some a little more, some a little less) rather than always
 * more, which would over-cover customers who mostly buy 0 or 1 times.
 */
export const INTERVAL_LEVEL = 0.9;

export type Interval = { low: number; high: number };

const TAIL = (1 - INTERVAL_LEVEL) / 2;

/** The interval of a distribution given by P(0) and a quantile function. */
export function predictiveInterval(pZero: number, quantile: (u: number) => number): Interval {
  if (pZero >= TAIL) return { low: 0, high: quantile(INTERVAL_LEVEL) };
  return { low: quantile(TAIL), high: quantile(1 - TAIL) };
}

/** The interval of a distribution on 0, 1, 2, … given by its probabilities. */
export function countInterval(pmf: readonly number[]): Interval {
  const cumulative: number[] = [];
  pmf.forEach((p, n) => cumulative.push((cumulative[n - 1] ?? 0) + p));
  // The n whose P(N ≤ n) is nearest u; n = −1 stands for "nothing below".
  const nearest = (u: number) => {
    let best = -1;
    for (let n = 0; n < cumulative.length; n++) if (Math.abs(cumulative[n]! - u) <= Math.abs((cumulative[best] ?? 0) - u)) best = n;
    return best;
  };
  if ((pmf[0] ?? 1) >= TAIL) return { low: 0, high: Math.max(0, nearest(INTERVAL_LEVEL)) };
  const low = nearest(TAIL) + 1;
  return { low, high: Math.max(low, nearest(1 - TAIL)) };
}

/** The smallest n with P(N ≤ n) ≥ u. */
export function countQuantile(pmf: readonly number[], u: number): number {
  let cumulative = 0;
  for (let n = 0; n < pmf.length; n++) {
    cumulative += pmf[n]!;
    if (cumulative >= u - 1e-12) return n;
  }
  return Math.max(0, pmf.length - 1);
}

/**
 * The u-quantile of a non-negative distribution by its CDF: bisection on a log scale to a
 * relative precision of 1e-4, from a bracket grown from `scale` (any positive guess).
 */
export function continuousQuantile(cdf: (s: number) => number, u: number, scale: number): number {
  if (cdf(0) >= u) return 0;
  let high = Math.max(scale, 1e-9);
  for (let i = 0; i < 200 && cdf(high) < u; i++) high *= 2;
  let low = high / 2;
  while (low > 1e-12 && cdf(low) >= u) low /= 2;
  while (high - low > 1e-4 * high) {
    const mid = Math.sqrt(low * high);
    if (cdf(mid) >= u) high = mid;
    else low = mid;
  }
  return high;
}

/** Empirical interval of observed outcomes (the same rule on their empirical distribution). */
export function empiricalInterval(values: readonly number[]): Interval {
  if (values.length === 0) return { low: 0, high: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const quantile = (u: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(u * sorted.length) - 1))]!;
  return predictiveInterval(sorted.filter((v) => v <= 0).length / sorted.length, quantile);
}
