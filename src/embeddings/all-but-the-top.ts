/**
 * "All-but-the-top" (Mu & Viswanath, ICLR 2018): word vectors share a large mean and a few
 * dominant directions that encode word frequency rather than meaning, so every pooled text
 * leans the same way and cosine scores crowd together. Subtracting the mean and the projections
 * on the top principal components spreads them out again.
 */
export function removeCommonDirections(vectors: Float32Array, dimensions: number, components: number): void {
  const rows = vectors.length / dimensions;
  if (rows === 0) return;
  const mean = new Float64Array(dimensions);
  for (let r = 0; r < rows; r++) for (let d = 0; d < dimensions; d++) mean[d]! += vectors[r * dimensions + d]!;
  for (let d = 0; d < dimensions; d++) mean[d]! /= rows;
  for (let r = 0; r < rows; r++) for (let d = 0; d < dimensions; d++) vectors[r * dimensions + d]! -= mean[d]!;
  if (components <= 0) return;

  const top = topEigenvectors(covariance(vectors, dimensions), dimensions, components);
  for (let r = 0; r < rows; r++) {
    const o = r * dimensions;
    for (const u of top) {
      let dot = 0;
      for (let d = 0; d < dimensions; d++) dot += u[d]! * vectors[o + d]!;
      for (let d = 0; d < dimensions; d++) vectors[o + d]! -= dot * u[d]!;
    }
  }
}

/** Xᵀ X of the (already centred) rows, as a dense symmetric matrix. */
function covariance(vectors: Float32Array, dimensions: number): Float64Array {
  const c = new Float64Array(dimensions * dimensions);
  const row = new Float64Array(dimensions);
  for (let o = 0; o < vectors.length; o += dimensions) {
    for (let d = 0; d < dimensions; d++) row[d] = vectors[o + d]!;
    for (let i = 0; i < dimensions; i++) {
      const x = row[i]!;
      const base = i * dimensions;
      for (let j = i; j < dimensions; j++) c[base + j]! += x * row[j]!;
    }
  }
  for (let i = 0; i < dimensions; i++) for (let j = 0; j < i; j++) c[i * dimensions + j] = c[j * dimensions + i]!;
  return c;
}

/**
 * The `count` eigenvectors of the largest eigenvalues of a symmetric matrix, by cyclic Jacobi
 * rotations: exact to float precision, and instant for the 100×100 matrices it is given here.
 */
export function topEigenvectors(matrix: Float64Array, n: number, count: number): Float64Array[] {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => a[y * n + y]! - a[x * n + x]!);
  return order.slice(0, count).map((col) => Float64Array.from({ length: n }, (_, k) => v[k * n + col]!));
}
