/**
 * Retrieval feature without vector memory: the churn rate among a customer's nearest
 * neighbours, found by exact k-nearest-neighbour search over standardised lifecycle
 * vectors (log recency, frequency, spend, tenure: see `neighbourVector`) of reference
 * customers whose outcome is already known. The vector memory's "similar customers" can
 * replace it by supplying `neighbourOutcomeRate` directly (see `ChurnPopulation`).
 */

export type NeighbourReference = { vectors: number[][]; outcomes: number[] };
export type NeighbourOptions = {
  /** @defaultValue 50 */
  k?: number;
  /** Pseudo-count pulling small neighbourhoods to the reference base rate. @defaultValue 5 */
  priorWeight?: number;
  /** Reference rows kept (deterministic stride sample) to bound the cost. @defaultValue 5000 */
  maxReference?: number;
};

export type NeighbourIndex = {
  rate: (vector: number[], excludeReferenceIndex?: number) => number;
  baseRate: number;
};

export function neighbourIndex(reference: NeighbourReference, options: NeighbourOptions = {}): NeighbourIndex {
  const { k = 50, priorWeight = 5, maxReference = 5000 } = options;
  const total = reference.vectors.length;
  const keptIndex =
    total <= maxReference
      ? Array.from({ length: total }, (_, i) => i)
      : Array.from({ length: maxReference }, (_, j) => Math.floor((j * total) / maxReference));
  const dims = reference.vectors[0]?.length ?? 0;
  const mean = new Array<number>(dims).fill(0);
  const sd = new Array<number>(dims).fill(0);
  for (const i of keptIndex) for (let d = 0; d < dims; d++) mean[d] = mean[d]! + reference.vectors[i]![d]! / keptIndex.length;
  for (const i of keptIndex) for (let d = 0; d < dims; d++) sd[d] = sd[d]! + (reference.vectors[i]![d]! - mean[d]!) ** 2 / keptIndex.length;
  for (let d = 0; d < dims; d++) sd[d] = Math.sqrt(sd[d]!) || 1;
  const m = keptIndex.length;
  const points = new Float64Array(m * dims);
  const outcomes = new Float64Array(m);
  const originalIndex = new Int32Array(m);
  keptIndex.forEach((i, row) => {
    for (let d = 0; d < dims; d++) points[row * dims + d] = (reference.vectors[i]![d]! - mean[d]!) / sd[d]!;
    outcomes[row] = reference.outcomes[i]!;
    originalIndex[row] = i;
  });
  const baseRate = outcomes.reduce((s, y) => s + y, 0) / Math.max(1, m);
  const distances = new Float64Array(m);
  const order = new Int32Array(m);

  const rate = (vector: number[], excludeReferenceIndex = -1) => {
    const q = vector.map((v, d) => (v - mean[d]!) / sd[d]!);
    for (let row = 0; row < m; row++) {
      let dist = 0;
      for (let d = 0; d < dims; d++) dist += (points[row * dims + d]! - q[d]!) ** 2;
      distances[row] = originalIndex[row] === excludeReferenceIndex ? Number.POSITIVE_INFINITY : dist;
      order[row] = row;
    }
    const kk = Math.min(k, m - (excludeReferenceIndex >= 0 ? 1 : 0));
    selectSmallest(order, distances, kk);
    let sum = 0;
    for (let j = 0; j < kk; j++) sum += outcomes[order[j]!]!;
    return (sum + priorWeight * baseRate) / (kk + priorWeight);
  };
  return { rate, baseRate };
}

/** Quickselect: rearranges `order` so its first `k` entries index the k smallest keys. */
function selectSmallest(order: Int32Array, keys: Float64Array, k: number): void {
  let lo = 0;
  let hi = order.length - 1;
  while (lo < hi) {
    const pivot = keys[order[(lo + hi) >> 1]!]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (keys[order[i]!]! < pivot) i++;
      while (keys[order[j]!]! > pivot) j--;
      if (i <= j) {
        const t = order[i]!;
        order[i] = order[j]!;
        order[j] = t;
        i++;
        j--;
      }
    }
    if (k - 1 <= j) hi = j;
    else if (k - 1 >= i) lo = i;
    else return;
  }
}
