/**
 * The BG/NBD predictive distribution of the number of purchases in (T, T + t] of one customer
 * with history (x, tx, T). Pure math.
 *
 * Given alive at T, the posterior of the purchase rate is λ ~ Gamma(r + x, α + T) and of the
 * drop-out probability p ~ Beta(a, b + x), independently (the likelihood of a living customer
 * is λ^x e^(−λT) (1 − p)^x). A living customer makes an n-th purchase in the window when the
 * window holds n Poisson arrivals and they survived the n − 1 drop-out chances before it:
 *   P(N ≥ n | alive) = E[(1 − p)^(n−1)] · P(K ≥ n),  K ~ NegBin(r + x, (α+T)/(α+T+t)),
 *   E[(1 − p)^(n−1)] = B(a, b + x + n − 1) / B(a, b + x).
 * Unconditionally P(N ≥ n) = P(alive) · P(N ≥ n | alive) for n ≥ 1.
 */
import { pAlive, type BgnbdParams } from "./bgnbd.ts";

/** P(N = n) for n = 0, 1, … until the tail left is below `tailTolerance` (at most `maxN` + 1 terms). */
export function purchaseCountPmf(p: BgnbdParams, t: number, x: number, tx: number, T: number, tailTolerance = 1e-7, maxN = 2_000): number[] {
  const alive = pAlive(p, x, tx, T);
  const shape = p.r + x;
  const theta = (p.alpha + T) / (p.alpha + T + t);
  // NegBin pmf of K by recursion: P(K=0) = θ^shape, P(K=k+1) = P(K=k)·(shape+k)/(k+1)·(1−θ).
  let kPmf = Math.pow(theta, shape);
  let kTail = 1; // P(K ≥ n), starting at n = 0
  let survive = 1; // E[(1 − p)^(n−1)], starting at n = 1
  const atLeast = [1]; // P(N ≥ n)
  for (let n = 1; n <= maxN; n++) {
    kTail -= kPmf;
    kPmf *= ((shape + n - 1) / n) * (1 - theta);
    if (n >= 2) survive *= (p.b + x + n - 2) / (p.a + p.b + x + n - 2);
    const tail = alive * survive * Math.max(0, kTail);
    atLeast.push(tail);
    if (tail < tailTolerance) break;
  }
  return atLeast.map((q, n) => q - (atLeast[n + 1] ?? 0));
}
