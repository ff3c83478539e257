import { describe, expect, test } from "bun:test";
import { curveDays } from "../../src/eval/prediction-scores";
import { scoredFixture } from "../support/prediction-fixtures";

describe("prediction scores", () => {
  // a: 2 purchase days (70 spent) after the cutoff, 1 in the 90 days before; b: none since day −200
  const s = scoredFixture();

  test("Lifeline's errors are the served figures against what each customer did", () => {
    expect(s.customers).toBe(2);
    expect(s.actual).toEqual({ purchases: 1, spend: 35 });
    const lifeline = s.methods.find((m) => m.name === "lifeline")!;
    expect(lifeline.purchases.mae).toBeCloseTo((0.5 + 0.2) / 2, 12);
    expect(lifeline.purchases.bias).toBeCloseTo((-0.5 + 0.2) / 2, 12);
    expect(lifeline.spend.mae).toBeCloseTo((30 + 5) / 2, 12);
  });

  test("'the same as the last period' repeats the 90 days before the cutoff", () => {
    const last = s.methods.find((m) => m.name === "last-period")!;
    expect(last.purchases).toEqual({ mae: 0.5, bias: -0.5 });
    expect(last.spend).toEqual({ mae: 20, bias: -20 });
    expect(s.curve.lastPeriod.at(-1)).toBe(1);
  });

  test("coverage counts outcomes inside the 90 % intervals, ends included", () => {
    expect(s.coverage.purchases).toBe(1);
    expect(s.coverage.spend).toBe(0.5);
  });

  test("the actual curve counts purchase days week by week up to the horizon", () => {
    expect(s.curve.days).toEqual(curveDays(90));
    expect(s.curve.days.at(-1)).toBe(90);
    expect(s.curve.actual.slice(0, 6)).toEqual([0, 1, 1, 1, 1, 2]);
    expect(s.curve.actual.at(-1)).toBe(2);
  });

  test("overdue customers and the others are scored apart", () => {
    expect(s.nextPurchase.overdue).toEqual({ customers: 1, boughtInHorizon: 0 });
    expect(s.nextPurchase.notOverdue).toEqual({ customers: 1, boughtInHorizon: 1 });
  });
});
