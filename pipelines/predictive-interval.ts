/**
 * How Lifeline turns a predictive distribution into a 90 % interval. Pure.
 *
 * Normally the interval runs from the 5th to the 95th percentile. When the customer may well
 * do nothing (zero holds at least 5 % of the probability), it starts at zero and runs to the
 * 90th percentile instead: that interval is shorter and still holds 90 %. For counts the
 * ends are whole numbers, so the interval holds at least 90 %.
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
  return predictiveInterval(pmf[0] ?? 1, (u) => countQuantile(pmf, u));
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
