import { describe, expect, test } from "bun:test";
import { removeCommonDirections, topEigenvectors } from "../../src/embeddings/all-but-the-top";

describe("all-but-the-top", () => {
  test("topEigenvectors finds the directions of the largest eigenvalues of a symmetric matrix", () => {
    // Eigenvalues 5 (along (1,1,0)/√2), 3 (along z), 1 (along (1,-1,0)/√2).
    const m = Float64Array.from([3, 2, 0, 2, 3, 0, 0, 0, 3]);
    const [first, second] = topEigenvectors(m, 3, 2);
    expect(Math.abs(first![0]!)).toBeCloseTo(Math.SQRT1_2, 9);
    expect(first![0]! * first![1]!).toBeCloseTo(0.5, 9);
    expect(Math.abs(second![2]!)).toBeCloseTo(1, 9);
  });

  test("removes the mean and the dominant direction, keeping what tells words apart", () => {
    // Four 3-d vectors sharing a big offset and a big spread along x; they differ along y and z.
    const rows = [
      [10 + 4, 1, 0],
      [10 + 4, -1, 0],
      [10 - 4, 0, 1],
      [10 - 4, 0, -1],
    ];
    const vectors = Float32Array.from(rows.flat());
    removeCommonDirections(vectors, 3, 1);
    const mean = [0, 1, 2].map((d) => (vectors[d]! + vectors[3 + d]! + vectors[6 + d]! + vectors[9 + d]!) / 4);
    mean.forEach((m) => expect(Math.abs(m)).toBeLessThan(1e-5));
    // Nothing is left along x, the dominant direction, and y/z are untouched.
    for (let r = 0; r < 4; r++) expect(Math.abs(vectors[r * 3]!)).toBeLessThan(1e-5);
    expect(Array.from(vectors.subarray(3, 6), (x) => Math.round(x * 1e5) / 1e5)).toEqual([0, -1, 0]);
  });

  test("with no components it only centres the vectors", () => {
    const vectors = Float32Array.from([1, 2, 3, 5]);
    removeCommonDirections(vectors, 2, 0);
    expect(Array.from(vectors)).toEqual([-1, -1.5, 1, 1.5]);
  });
});
