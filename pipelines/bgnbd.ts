/**
 * BG/NBD ("beta-geometric / negative binomial distribution") model of repeat buying,
 * Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Marketing Science 24(2).
 *
 * While alive a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after every
 * purchase they drop out with probability p ~ Beta(a, b). A customer is summarised by
 * x (repeat purchases), tx (time of the last purchase) and T (age), all measured from the
 * first purchase in one time unit (weeks in the paper). Pure math: no I/O.
 */

export type BgnbdParams = { r: number; alpha: number; a: number; b: number };
export type RepeatSummary = { x: number; tx: number; T: number };

export const DAY_MS = 86_400_000;
export const WEEK_MS = 7 * DAY_MS;

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(z) for z > 0 (Lanczos, g = 7; relative error ~1e-15). */
export function gammaln(z: number): number {
  if (z < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * z)) - gammaln(1 - z);
  const zz = z - 1;
  let sum = LANCZOS[0]!;
  for (let i = 1; i < 9; i++) sum += LANCZOS[i]! / (zz + i);
  const t = zz + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (zz + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** ln B(a, b). */
export const betaln = (a: number, b: number): number => gammaln(a) + gammaln(b) - gammaln(a + b);

const logAddExp = (u: number, v: number): number => {
  const m = Math.max(u, v);
  return m + Math.log(Math.exp(u - m) + Math.exp(v - m));
};

/** Log-likelihood of one customer (equation 6 of the paper, evaluated in log space). */
export function customerLogLikelihood(p: BgnbdParams, s: RepeatSummary): number {
  const { r, alpha, a, b } = p;
  const { x, tx, T } = s;
  const common = gammaln(r + x) - gammaln(r) + r * Math.log(alpha);
  const stillAlive = betaln(a, b + x) - betaln(a, b) - (r + x) * Math.log(alpha + T);
  if (x === 0) return common + stillAlive;
  const droppedAfterLast = betaln(a + 1, b + x - 1) - betaln(a, b) - (r + x) * Math.log(alpha + tx);
  return common + logAddExp(stillAlive, droppedAfterLast);
}

/** Sum of the log-likelihood over a population. */
export function logLikelihood(p: BgnbdParams, data: readonly RepeatSummary[]): number {
  let sum = 0;
  for (const s of data) sum += customerLogLikelihood(p, s);
  return sum;
}

/**
 * Nelder-Mead simplex minimiser (standard coefficients, shrink on failure).
 * Returns the best point found and its value.
 */
export function nelderMead(
  f: (x: number[]) => number,
  start: number[],
  options: { step?: number; maxIterations?: number; tolerance?: number } = {},
): { x: number[]; value: number } {
  const { step = 0.5, maxIterations = 4000, tolerance = 1e-10 } = options;
  const n = start.length;
  const safe = (x: number[]) => {
    const v = f(x);
    return Number.isFinite(v) ? v : Number.POSITIVE_INFINITY;
  };
  let simplex = [start.slice()];
  for (let i = 0; i < n; i++) {
    const point = start.slice();
    point[i] = point[i]! + step;
    simplex.push(point);
  }
  let values = simplex.map(safe);
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    const order = values.map((_, i) => i).sort((i, j) => values[i]! - values[j]!);
    simplex = order.map((i) => simplex[i]!);
    values = order.map((i) => values[i]!);
    const best = values[0]!;
    const worst = values[n]!;
    if (Math.abs(worst - best) <= tolerance * (Math.abs(best) + tolerance)) break;
    const centroid = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) for (let d = 0; d < n; d++) centroid[d] = centroid[d]! + simplex[i]![d]! / n;
    const along = (t: number) => centroid.map((c, d) => c + t * (simplex[n]![d]! - c));
    const reflected = along(-1);
    const fr = safe(reflected);
    if (fr < best) {
      const expanded = along(-2);
      const fe = safe(expanded);
      [simplex[n], values[n]] = fe < fr ? [expanded, fe] : [reflected, fr];
    } else if (fr < values[n - 1]!) {
      [simplex[n], values[n]] = [reflected, fr];
    } else {
      const contracted = fr < worst ? along(-0.5) : along(0.5);
      const fc = safe(contracted);
      if (fc < Math.min(fr, worst)) {
        [simplex[n], values[n]] = [contracted, fc];
      } else {
        for (let i = 1; i <= n; i++) {
          simplex[i] = simplex[i]!.map((v, d) => simplex[0]![d]! + 0.5 * (v - simplex[0]![d]!));
          values[i] = safe(simplex[i]!);
        }
      }
    }
  }
  const bestIndex = values.indexOf(Math.min(...values));
  return { x: simplex[bestIndex]!, value: values[bestIndex]! };
}

export type BgnbdFit = { params: BgnbdParams; logLikelihood: number };

/**
 * Maximum-likelihood fit. Optimises log-parameters with Nelder-Mead from several starts,
 * restarting each from its own optimum until it stops improving.
 */
export function fitBgnbd(data: readonly RepeatSummary[], options: { starts?: number[][] } = {}): BgnbdFit {
  if (data.length === 0) throw new Error("fitBgnbd needs at least one customer");
  const pooled = pool(data);
  // The x-only terms (Γ and B functions) are evaluated once per distinct x, not per customer.
  const xs = [...new Set(pooled.map((p) => p.s.x))].sort((u, v) => u - v);
  const xIndex = new Map(xs.map((x, i) => [x, i]));
  const groupOf = Int32Array.from(pooled, (p) => xIndex.get(p.s.x)!);
  const common = new Float64Array(xs.length);
  const aliveConst = new Float64Array(xs.length);
  const droppedConst = new Float64Array(xs.length);
  const negMean = (logs: number[]) => {
    const [r, alpha, a, b] = logs.map(Math.exp) as [number, number, number, number];
    const lnAlpha = Math.log(alpha);
    const lnGammaR = gammaln(r);
    const lnBetaAB = betaln(a, b);
    for (let g = 0; g < xs.length; g++) {
      const x = xs[g]!;
      common[g] = gammaln(r + x) - lnGammaR + r * lnAlpha;
      aliveConst[g] = betaln(a, b + x) - lnBetaAB;
      droppedConst[g] = x > 0 ? betaln(a + 1, b + x - 1) - lnBetaAB : 0;
    }
    let sum = 0;
    for (let k = 0; k < pooled.length; k++) {
      const { s, weight } = pooled[k]!;
      const g = groupOf[k]!;
      const stillAlive = aliveConst[g]! - (r + s.x) * Math.log(alpha + s.T);
      const ll = s.x === 0 ? stillAlive : logAddExp(stillAlive, droppedConst[g]! - (r + s.x) * Math.log(alpha + s.tx));
      sum += weight * (common[g]! + ll);
    }
    return -sum / data.length;
  };
  const meanT = data.reduce((s, d) => s + d.T, 0) / data.length;
  const starts = options.starts ?? [
    [0, Math.log(Math.max(meanT, 1)), 0, 0],
    [Math.log(0.25), Math.log(4), Math.log(0.8), Math.log(2.5)],
    [Math.log(2), Math.log(20), Math.log(2), Math.log(5)],
    [Math.log(0.1), Math.log(1), Math.log(0.3), Math.log(1)],
  ];
  const best = minimiseFromStarts(negMean, starts);
  const [r, alpha, a, b] = best.x.map(Math.exp) as [number, number, number, number];
  return { params: { r, alpha, a, b }, logLikelihood: -best.value * data.length };
}

/** Nelder-Mead from each start, restarted from its own optimum until it stops improving; the best optimum. */
export function minimiseFromStarts(f: (x: number[]) => number, starts: readonly number[][]): { x: number[]; value: number } {
  let best = { x: starts[0]!, value: Number.POSITIVE_INFINITY };
  for (const start of starts) {
    let current = nelderMead(f, start);
    for (let restart = 0; restart < 5; restart++) {
      const next = nelderMead(f, current.x, { step: 0.1 });
      const improved = current.value - next.value > 1e-12;
      current = next.value < current.value ? next : current;
      if (!improved) break;
    }
    if (current.value < best.value) best = current;
  }
  return best;
}

/** Identical summaries pooled with a weight: the likelihood is evaluated once per distinct triple. */
function pool(data: readonly RepeatSummary[]): { s: RepeatSummary; weight: number }[] {
  const byKey = new Map<string, { s: RepeatSummary; weight: number }>();
  for (const s of data) {
    const key = `${s.x}|${s.tx}|${s.T}`;
    const entry = byKey.get(key);
    if (entry) entry.weight++;
    else byKey.set(key, { s, weight: 1 });
  }
  return [...byKey.values()];
}

/** P(customer is still alive at T | x, tx, T). Equals 1 when x = 0 (no repeat purchase yet). */
export function pAlive(p: BgnbdParams, x: number, tx: number, T: number): number {
  if (x === 0) return 1;
  const { r, alpha, a, b } = p;
  const logRatio = Math.log(a / (b + x - 1)) + (r + x) * Math.log((alpha + T) / (alpha + tx));
  return 1 / (1 + Math.exp(logRatio));
}

/** Gauss hypergeometric 2F1(a, b; c; z) for 0 ≤ z < 1 by its power series. */
export function hyp2f1(a: number, b: number, c: number, z: number): number {
  let term = 1;
  let sum = 1;
  for (let k = 0; k < 200_000; k++) {
    term *= ((a + k) * (b + k)) / ((c + k) * (k + 1)) * z;
    sum += term;
    if (Math.abs(term) < 1e-15 * Math.abs(sum)) break;
  }
  return sum;
}

/** E[number of purchases in (T, T + t] | x, tx, T] (equation 10 of the paper). */
export function expectedPurchases(p: BgnbdParams, t: number, x: number, tx: number, T: number): number {
  const { r, alpha, a, b } = p;
  const z = t / (alpha + T + t);
  const decay = Math.pow((alpha + T) / (alpha + T + t), r + x);
  const numerator = ((a + b + x - 1) / (a - 1)) * (1 - decay * hyp2f1(r + x, b + x, a + b + x - 1, z));
  return numerator * pAlive(p, x, tx, T);
}

/**
 * P(no purchase in (T, T + horizon] | x, tx, T).
 *
 * A customer who dropped out buys nothing. One still alive at T has no drop-out
 * opportunity before their next purchase, so they buy nothing in the horizon exactly when
 * their next Poisson arrival falls after it: P = e^(−λ·horizon). Given alive at T, the
 * posterior of λ is Gamma(r + x, α + T), whose Laplace transform gives
 * E[e^(−λh)] = ((α + T) / (α + T + h))^(r + x). Hence
 * P = (1 − P(alive)) + P(alive) · ((α + T) / (α + T + h))^(r + x).
 */
export function pNoPurchase(p: BgnbdParams, horizon: number, x: number, tx: number, T: number): number {
  const alive = pAlive(p, x, tx, T);
  const quiet = Math.pow((p.alpha + T) / (p.alpha + T + horizon), p.r + x);
  return 1 - alive + alive * quiet;
}

/**
 * (x, tx, T) of a purchase history observed up to `asOfMs` (exclusive), in units of
 * `unitMs` (weeks by default), at day resolution as in the paper and in `lifetimes`:
 * repeat purchases are counted per distinct UTC day, and T runs from the first purchase day
 * to the last observed day (the day containing asOfMs − 1). So a calibration period
 * "ending 1997-09-30" is asOfMs = 1997-10-01T00:00Z. Null when nothing was bought before asOfMs.
 */
export function repeatSummary(purchaseTimesMs: readonly number[], asOfMs: number, unitMs = WEEK_MS): RepeatSummary | null {
  const days = new Set<number>();
  for (const ts of purchaseTimesMs) if (ts < asOfMs) days.add(Math.floor(ts / DAY_MS));
  if (days.size === 0) return null;
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const d of days) {
    if (d < first) first = d;
    if (d > last) last = d;
  }
  const lastObservedDay = Math.floor((asOfMs - 1) / DAY_MS);
  const toUnits = DAY_MS / unitMs;
  return { x: days.size - 1, tx: (last - first) * toUnits, T: (lastObservedDay - first) * toUnits };
}
