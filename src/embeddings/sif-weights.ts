/** SIF smoothing constant from Arora et al. (2017); their results are flat for 1e-4..1e-3. */
export const SIF_A = 1e-3;

const EULER_GAMMA = 0.5772156649;

/**
 * Word probability estimated from its 0-based frequency rank with Zipf's law,
 * p(r) = 1 / ((r + 1) · H_n), for a vocabulary of `n` ranked words.
 */
export function zipfProbability(rank: number, n: number): number {
  const harmonic = Math.log(n) + EULER_GAMMA;
  return 1 / ((rank + 1) * harmonic);
}

/** Smooth inverse frequency weight a / (a + p(w)): frequent words count less. */
export const sifWeight = (probability: number, a = SIF_A): number => a / (a + probability);
