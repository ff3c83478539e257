import { describe, expect, it } from "bun:test";
import { catalogueCoverage, hitAtK, hitRateAtK, meanNdcgAtK, ndcgAtK } from "../../pipelines/rec-metrics.ts";

describe("rec-metrics", () => {
  const relevant = new Set(["b", "d"]);
  const hitCases = [
    { name: "a relevant item at rank 2 is a hit at k=2", list: ["a", "b", "c"], k: 2, want: 1 },
    { name: "a relevant item at rank 2 is a miss at k=1", list: ["a", "b", "c"], k: 1, want: 0 },
    { name: "no relevant item is a miss", list: ["a", "c", "e"], k: 10, want: 0 },
    { name: "a short list is read to its end", list: ["d"], k: 10, want: 1 },
  ];
  it.each(hitCases)("$name", ({ list, k, want }) => expect(hitAtK(list, relevant, k)).toBe(want));

  const ndcgCases = [
    { name: "both relevant items first is perfect", list: ["b", "d", "a"], want: 1 },
    { name: "nothing relevant scores 0", list: ["a", "c"], want: 0 },
    { name: "one relevant at rank 1 of two relevant", list: ["b", "a", "c"], want: 1 / (1 + 1 / Math.log2(3)) },
    { name: "relevant at ranks 2 and 3", list: ["a", "b", "d"], want: (1 / Math.log2(3) + 1 / Math.log2(4)) / (1 + 1 / Math.log2(3)) },
  ];
  it.each(ndcgCases)("should give NDCG@10 when $name", ({ list, want }) => expect(ndcgAtK(list, relevant, 10)).toBeCloseTo(want, 12));

  it("should cap the ideal DCG at k when more items are relevant than fit", () => {
    const many = new Set(["a", "b", "c", "d"]);
    expect(ndcgAtK(["a", "b"], many, 2)).toBeCloseTo(1, 12);
  });

  it("should return 0 NDCG for an empty relevant set", () => expect(ndcgAtK(["a"], new Set(), 10)).toBe(0));

  it("should average hits and NDCG over customers", () => {
    const cases = [
      { recommended: ["b"], relevant },
      { recommended: ["x"], relevant },
    ];
    expect(hitRateAtK(cases, 10)).toBe(0.5);
    expect(meanNdcgAtK(cases, 10)).toBeCloseTo(0.5 * (1 / (1 + 1 / Math.log2(3))), 12);
  });

  it("should return NaN for no customers rather than a misleading 0", () => {
    expect(hitRateAtK([], 10)).toBeNaN();
    expect(meanNdcgAtK([], 10)).toBeNaN();
  });

  it("should count each catalogue item shown in any top k once, and ignore items outside the catalogue", () => {
    const catalogue = new Set(["a", "b", "c", "d"]);
    expect(catalogueCoverage([["a", "b", "c"], ["a", "z"]], catalogue, 2)).toBe(0.5);
  });
});
