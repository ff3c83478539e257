/**
 * Poisson regression with a log link (quasi-likelihood, so the outcome may be any
 * non-negative amount, e.g. spend), an optional per-row offset and an L2 penalty on the
 * slopes, fitted by Newton's method on standardised features. Pure math.
 */

export type PoissonModel = {
  intercept: number;
  /** Slopes on the raw (unstandardised) features. */
  coefficients: number[];
};

export type PoissonOptions = {
  /** L2 penalty on the standardised slopes, per row. @defaultValue 1e-4 */
  l2?: number;
  /** @defaultValue 50 */
  maxIterations?: number;
};

export function fitPoisson(rows: readonly number[][], y: readonly number[], offset?: readonly number[], options: PoissonOptions = {}): PoissonModel {
  const { l2 = 1e-4, maxIterations = 50 } = options;
  const n = rows.length;
  if (n === 0) throw new Error("fitPoisson needs rows");
  const k = rows[0]!.length;
  const mean = new Array<number>(k).fill(0);
  const sd = new Array<number>(k).fill(0);
  for (const r of rows) for (let j = 0; j < k; j++) mean[j]! += r[j]! / n;
  for (const r of rows) for (let j = 0; j < k; j++) sd[j]! += (r[j]! - mean[j]!) ** 2 / n;
  // A feature that (almost) never varies carries no information; left in, its slope would be
  // an ill-determined huge number. It gets slope 0.
  const constant = sd.map((v, j) => Math.sqrt(v) < 1e-4 * Math.max(1, Math.abs(mean[j]!)));
  for (let j = 0; j < k; j++) sd[j] = constant[j] ? 1 : Math.sqrt(sd[j]!);
  const z = rows.map((r) => [1, ...r.map((v, j) => (constant[j] ? 0 : (v - mean[j]!) / sd[j]!))]);
  const off = (i: number) => offset?.[i] ?? 0;
  const meanY = y.reduce((s, v) => s + v, 0) / n;
  const meanOffsetExp = rows.reduce((s, _, i) => s + Math.exp(off(i)), 0) / n;
  const beta = new Array<number>(k + 1).fill(0);
  beta[0] = Math.log(Math.max(meanY, 1e-12) / meanOffsetExp);
  const d = k + 1;
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    const gradient = new Array<number>(d).fill(0);
    const hessian = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (let i = 0; i < n; i++) {
      const zi = z[i]!;
      let eta = off(i);
      for (let j = 0; j < d; j++) eta += beta[j]! * zi[j]!;
      const mu = Math.exp(Math.min(eta, 50));
      const residual = mu - y[i]!;
      for (let a = 0; a < d; a++) {
        gradient[a]! += (residual * zi[a]!) / n;
        for (let b = a; b < d; b++) hessian[a]![b]! += (mu * zi[a]! * zi[b]!) / n;
      }
    }
    for (let a = 1; a < d; a++) {
      gradient[a]! += l2 * beta[a]!;
      hessian[a]![a]! += constant[a - 1] ? 1 : l2;
    }
    for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) hessian[a]![b] = hessian[b]![a]!;
    const step = solve(hessian, gradient);
    let largest = 0;
    for (let j = 0; j < d; j++) {
      beta[j]! -= step[j]!;
      largest = Math.max(largest, Math.abs(step[j]!));
    }
    if (largest < 1e-9) break;
  }
  const coefficients = beta.slice(1).map((b, j) => b / sd[j]!);
  const intercept = beta[0]! - coefficients.reduce((s, c, j) => s + c * mean[j]!, 0);
  return { intercept, coefficients };
}

export function predictPoisson(model: PoissonModel, row: readonly number[], offset = 0): number {
  let eta = model.intercept + offset;
  for (let j = 0; j < row.length; j++) eta += model.coefficients[j]! * row[j]!;
  return Math.exp(Math.min(eta, 50));
}

/** Solves A·x = b for a symmetric positive-definite A (Gaussian elimination with partial pivoting). */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    const p = m[col]![col]! || 1e-12;
    for (let r = col + 1; r < n; r++) {
      const f = m[r]![col]! / p;
      if (f === 0) continue;
      for (let c = col; c <= n; c++) m[r]![c]! -= f * m[col]![c]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = m[r]![n]!;
    for (let c = r + 1; c < n; c++) s -= m[r]![c]! * x[c]!;
    x[r] = s / (m[r]![r]! || 1e-12);
  }
  return x;
}
