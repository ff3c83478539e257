import { describe, expect, it } from "bun:test";
import { auc, brier, calibrationTable, expectedCalibrationError, logLoss, prAuc } from "../../pipelines/metrics.ts";

describe("metrics", () => {
  const aucCases = [
    { name: "perfect ranking", scores: [0.1, 0.2, 0.8, 0.9], labels: [0, 0, 1, 1], want: 1 },
    { name: "reversed ranking", scores: [0.9, 0.8, 0.2, 0.1], labels: [0, 0, 1, 1], want: 0 },
    { name: "one misordered pair of four", scores: [0.1, 0.6, 0.5, 0.9], labels: [0, 0, 1, 1], want: 0.75 },
    { name: "all tied", scores: [0.5, 0.5, 0.5, 0.5], labels: [0, 1, 0, 1], want: 0.5 },
    { name: "a positive tied with a negative counts half", scores: [0.1, 0.5, 0.5, 0.9], labels: [0, 0, 1, 1], want: 0.875 },
  ];
  it.each(aucCases)("should compute the AUC of $name", ({ scores, labels, want }) => {
    expect(auc(scores, labels)).toBeCloseTo(want, 12);
  });

  it("should return NaN AUC when one class is missing", () => {
    expect(auc([0.1, 0.2], [1, 1])).toBeNaN();
  });

  it("should match a brute-force pair count on random data", () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    const scores = Array.from({ length: 300 }, () => Math.round(rand() * 20) / 20);
    const labels = scores.map((s) => (rand() < s ? 1 : 0));
    let wins = 0;
    let pairs = 0;
    for (let i = 0; i < scores.length; i++)
      for (let j = 0; j < scores.length; j++)
        if (labels[i] === 1 && labels[j] === 0) {
          pairs++;
          wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
        }
    expect(auc(scores, labels)).toBeCloseTo(wins / pairs, 12);
  });

  it("should compute the Brier score and log loss", () => {
    expect(brier([1, 0, 0.5], [1, 0, 1])).toBeCloseTo(0.25 / 3, 12);
    expect(logLoss([0.5, 0.5], [1, 0])).toBeCloseTo(Math.log(2), 12);
  });

  it("should give average precision 1 to a perfect ranking and the base rate to a constant", () => {
    expect(prAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBeCloseTo(1, 12);
    expect(prAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 0])).toBeCloseTo(0.25, 12);
  });

  it("should cut the calibration table into equal-count bins comparing predicted and observed", () => {
    const p = Array.from({ length: 100 }, (_, i) => i / 100);
    const y = p.map((v) => (v >= 0.5 ? 1 : 0));
    const table = calibrationTable(p, y, 10);
    expect(table).toHaveLength(10);
    expect(table.every((row) => row.count === 10)).toBe(true);
    expect(table[0]!.observedRate).toBe(0);
    expect(table[9]!.observedRate).toBe(1);
    expect(table[9]!.meanPredicted).toBeCloseTo(0.945, 12);
    expect(expectedCalibrationError(table)).toBeGreaterThan(0);
  });
});
