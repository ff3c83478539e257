/**
 * A recency-weighted mean of a customer's event vectors, kept as sum + weight so adding or
 * removing one event is O(dimensions). An event at time ts weighs 2^((ts - refTs) / halfLife):
 * the mean is invariant to refTs, so refTs only moves to keep the exponent in range.
 */
export type CustomerVector = { sum: Float64Array; weight: number; refTs: number };

// 2^±300 stays far from float64 overflow and underflow.
const MAX_EXPONENT = 300;

export function emptyCustomerVector(dimensions: number, refTs: number): CustomerVector {
  return { sum: new Float64Array(dimensions), weight: 0, refTs };
}

function rebase(cv: CustomerVector, refTs: number, halfLifeMs: number): void {
  const scale = Math.pow(2, (cv.refTs - refTs) / halfLifeMs);
  for (let i = 0; i < cv.sum.length; i++) cv.sum[i]! *= scale;
  cv.weight *= scale;
  cv.refTs = refTs;
}

function eventWeight(cv: CustomerVector, ts: number, halfLifeMs: number): number {
  if (cv.weight === 0) cv.refTs = ts;
  else if (Math.abs(ts - cv.refTs) / halfLifeMs > MAX_EXPONENT) rebase(cv, ts, halfLifeMs);
  return Math.pow(2, (ts - cv.refTs) / halfLifeMs);
}

/** Adds (sign 1) or removes (sign -1) one event's contribution. */
export function applyEvent(cv: CustomerVector, vector: ArrayLike<number>, ts: number, halfLifeMs: number, sign: 1 | -1 = 1): void {
  const w = sign * eventWeight(cv, ts, halfLifeMs);
  for (let i = 0; i < cv.sum.length; i++) cv.sum[i]! += w * vector[i]!;
  cv.weight += w;
  // Float error after removals: an emptied customer must read as empty.
  if (cv.weight <= 1e-12 * Math.abs(w)) {
    cv.sum.fill(0);
    cv.weight = 0;
  }
}

/** Folds `from` into `into` (identity stitching). */
export function mergeCustomerVector(into: CustomerVector, from: CustomerVector, halfLifeMs: number): void {
  if (from.weight === 0) return;
  if (into.weight === 0) {
    into.sum.set(from.sum);
    into.weight = from.weight;
    into.refTs = from.refTs;
    return;
  }
  let scale = Math.pow(2, (from.refTs - into.refTs) / halfLifeMs);
  // `from` is far newer: move the reference forward instead of overflowing.
  if (!Number.isFinite(scale)) {
    rebase(into, from.refTs, halfLifeMs);
    scale = 1;
  }
  for (let i = 0; i < into.sum.length; i++) into.sum[i]! += scale * from.sum[i]!;
  into.weight += scale * from.weight;
}

/** The unit-length mean direction, or undefined for a customer with no events. */
export function customerDirection(cv: CustomerVector): Float32Array | undefined {
  if (cv.weight <= 0) return undefined;
  let norm = 0;
  for (let i = 0; i < cv.sum.length; i++) norm += cv.sum[i]! * cv.sum[i]!;
  if (norm === 0) return undefined;
  const inv = 1 / Math.sqrt(norm);
  return Float32Array.from(cv.sum, (x) => x * inv);
}

export function normalised(vector: Float32Array): Float32Array {
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i]! * vector[i]!;
  const inv = norm === 0 ? 1 : 1 / Math.sqrt(norm);
  const out = new Float32Array(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = vector[i]! * inv;
  return out;
}
