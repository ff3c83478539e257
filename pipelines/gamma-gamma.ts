/**
 * Gamma-Gamma model of spend per transaction, Fader, Hardie & Lee (2005), "RFM and CLV:
 * Using Iso-Value Curves for Customer Base Analysis", JMR 42(4); and Fader & Hardie (2013),
 * "The Gamma-Gamma Model of Monetary Value".
 *
 * Each transaction of a customer is Gamma(p, ν); ν varies across customers as Gamma(q, γ)
 * (shape q, rate γ). A customer is summarised by x (repeat transactions) and m (their mean
 * value); like the papers, the first transaction is left out. Spend is assumed independent
 * of how often a customer buys. Pure math: no I/O.
 */
import { betaln, minimiseFromStarts } from "./bgnbd.ts";
import { regularizedBeta } from "./incomplete-beta.ts";

export type GammaGammaParams = { p: number; q: number; gamma: number };
export type SpendSummary = { x: number; mean: number };

/** Log-likelihood of one customer's mean spend m over x transactions (x ≥ 1, m > 0). */
export function spendLogLikelihood({ p, q, gamma }: GammaGammaParams, { x, mean: m }: SpendSummary): number {
  const px = p * x;
  return -betaln(px, q) + q * Math.log(gamma) + (px - 1) * Math.log(m) + px * Math.log(x) - (px + q) * Math.log(gamma + m * x);
}

export type GammaGammaFit = { params: GammaGammaParams; logLikelihood: number; customers: number };

/** Maximum-likelihood fit on the customers with x ≥ 1 and a positive mean (the others carry no spend information). */
export function fitGammaGamma(data: readonly SpendSummary[]): GammaGammaFit {
  const usable = data.filter((d) => d.x >= 1 && d.mean > 0 && Number.isFinite(d.mean));
  if (usable.length === 0) throw new Error("fitGammaGamma needs a customer with a repeat transaction of positive value");
  // Terms that depend on x alone are summed once per distinct x; one log per customer remains.
  const byX = new Map<number, { count: number; sumLogM: number }>();
  for (const d of usable) {
    const g = byX.get(d.x) ?? { count: 0, sumLogM: 0 };
    g.count++;
    g.sumLogM += Math.log(d.mean);
    byX.set(d.x, g);
  }
  const groups = [...byX].map(([x, g]) => ({ x, ...g }));
  const xs = Float64Array.from(usable, (d) => d.x);
  const totals = Float64Array.from(usable, (d) => d.x * d.mean);
  const negMean = (logs: number[]) => {
    const [p, q, gamma] = logs.map(Math.exp) as [number, number, number];
    let sum = 0;
    for (const g of groups) {
      const px = p * g.x;
      sum += g.count * (-betaln(px, q) + q * Math.log(gamma) + px * Math.log(g.x)) + (px - 1) * g.sumLogM;
    }
    for (let i = 0; i < xs.length; i++) sum -= (p * xs[i]! + q) * Math.log(gamma + totals[i]!);
    return -sum / usable.length;
  };
  const scale = usable.reduce((s, d) => s + d.mean, 0) / usable.length;
  const starts = [
    [0, Math.log(2), Math.log(scale)],
    [Math.log(5), Math.log(4), Math.log(scale)],
    [Math.log(0.5), Math.log(10), Math.log(scale / 2)],
  ];
  const best = minimiseFromStarts(negMean, starts);
  const [p, q, gamma] = best.x.map(Math.exp) as [number, number, number];
  return { params: { p, q, gamma }, logLikelihood: -best.value * usable.length, customers: usable.length };
}

/** Posterior of the customer's rate ν: Gamma(shape, rate). */
export function spendPosterior({ p, q, gamma }: GammaGammaParams, { x, mean }: SpendSummary): { shape: number; rate: number } {
  const n = mean > 0 ? x : 0;
  return { shape: q + p * n, rate: gamma + n * mean };
}

/**
 * E[value of one future transaction | x, m] = p(γ + x·m) / (p·x + q − 1): a weighted mean of
 * the population mean pγ/(q − 1) and the customer's own m. Infinite when q + p·x ≤ 1.
 */
export function expectedSpend(params: GammaGammaParams, s: SpendSummary): number {
  const { shape, rate } = spendPosterior(params, s);
  return shape > 1 ? (params.p * rate) / (shape - 1) : Number.POSITIVE_INFINITY;
}

/**
 * P(total value of n future transactions ≤ s | x, m). With ν ~ Gamma(k, ρ) the total is
 * Gamma(n·p, ν), so total/ρ is beta-prime(n·p, k): P = I_{s/(s+ρ)}(n·p, k).
 */
export function spendCdf(params: GammaGammaParams, summary: SpendSummary, n: number, s: number): number {
  if (n === 0) return s >= 0 ? 1 : 0;
  if (s <= 0) return 0;
  const { shape, rate } = spendPosterior(params, summary);
  return regularizedBeta(s / (s + rate), n * params.p, shape);
}

/**
 * P(total spend over the horizon ≤ s) when the number of future transactions has
 * probabilities `countPmf` (independent of spend, as the model assumes) and every amount is
 * scaled by `scale`: a mixture of the n-transaction totals, with an atom at 0 for n = 0.
 */
export function horizonSpendCdf(params: GammaGammaParams, summary: SpendSummary, countPmf: readonly number[], scale = 1): (s: number) => number {
  const terms = countPmf.map((w, n) => ({ w, n })).filter(({ w, n }) => n > 0 && w > 1e-9);
  const atZero = countPmf[0] ?? 0;
  return (s) => {
    if (s < 0) return 0;
    let cdf = atZero;
    for (const { w, n } of terms) cdf += w * spendCdf(params, summary, n, s / scale);
    return Math.min(1, cdf);
  };
}
