/** Probability ↔ log-odds. Pure. */
export const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** logit of a probability, clipped away from 0 and 1. */
export const logit = (p: number) => {
  const q = Math.min(1 - 1e-9, Math.max(1e-9, p));
  return Math.log(q / (1 - q));
};
