import { describe, expect, test } from "bun:test";
import { gainsCurve, liftTopDecile, rocCurve, scoreChurnModel } from "../../src/eval/churn-scores";
import { figureCells, formatFigure, type EvalReport } from "../../src/eval/eval-report";
import { itemCooccurrence, mostPopular, recSplit, scoreRecs } from "../../src/eval/rec-scores";
import { reportHtml } from "../../src/eval/report-html";
import { scoredFixture } from "../support/prediction-fixtures";

const DAY = 86_400_000;

/** 100 customers, 30 churned; `noise` swaps that many churners' scores to the bottom. */
function scores(noise: number) {
  const labels = Array.from({ length: 100 }, (_, i) => (i < 30 ? 1 : 0));
  const p = labels.map((y, i) => (y ? 0.9 - i / 1000 : 0.2 + i / 1000));
  for (let i = 0; i < noise; i++) p[i] = 0.01;
  return { labels, p };
}

function report(): EvalReport {
  const { labels, p } = scores(5);
  const histories = [
    { customerId: "a", events: [{ ts: 0, itemId: "x", kind: "purchase" as const }, { ts: 20 * DAY, itemId: "y", kind: "purchase" as const }] },
    { customerId: "b", events: [{ ts: 0, itemId: "x", kind: "purchase" as const }, { ts: 0, itemId: "y", kind: "purchase" as const }] },
  ];
  const split = recSplit(histories, 10 * DAY, 30 * DAY, true);
  return {
    dataset: "tiny",
    note: "a unit-test report",
    generatedAt: "2026-01-01T00:00:00.000Z",
    mapping: "tiny",
    input: "tiny.csv",
    cutoff: "1970-01-11",
    cutoffIso: "1970-01-11T00:00:00.000Z",
    horizonDays: 30,
    data: { files: 1, events: 10, unusable: 0, orders: 10, firstEventIso: "1970-01-01T00:00:00.000Z", lastEventIso: "1970-02-10T00:00:00.000Z", evaluates: "identified customers" },
    warnings: ["a <warning>"],
    sample: { requested: null, eligible: 100, customers: 100 },
    system: {
      imported: { rows: 10, events: 10, accepted: 10, duplicates: 0, rejected: 0, skipped: 0 },
      profiles: 100,
      missing: 0,
      model: { version: "m1", learned: true, trainedAt: "1970-01-11T00:00:00.000Z", customers: 100 },
      seconds: { import: 1, drain: 1, refit: 1, score: 1, total: 4 },
    },
    churn: {
      customers: 100,
      churnRate: 0.3,
      models: [scoreChurnModel("lifeline", "Lifeline", p, labels), scoreChurnModel("recency", "Recency <only>", p.map((v) => 1 - v), labels)],
      intervalCoverage: { level: 0.9, coverage: 1, bins: [{ bin: 0, count: 100, meanPredicted: 0.3, observedRate: 0.3, low: 0.2, high: 0.4, covered: true }] },
      choice: null,
      uses: { features: ["recency_days"], fittedSignals: [] },
    },
    recs: {
      k: 10,
      evaluated: split.cases.length,
      catalogue: split.catalogue.size,
      methods: [
        scoreRecs("lifeline", "Lifeline", split, [["y"]]),
        scoreRecs("most-popular", "Most popular", split, split.cases.map((c) => mostPopular(split.train)(c.customer))),
        scoreRecs("cooccurrence", "Co-occurrence", split, split.cases.map((c) => itemCooccurrence(split.train, ["purchase"])(c.customer))),
      ],
      hrRatioToMostPopular: 1,
      meetsTarget: false,
      choice: null,
      rebuy: null,
    },
    examples: [
      {
        customerId: "c-<script>alert(1)</script>",
        churned: true,
        probability: 0.91,
        interval: { low: 0.85, high: 0.95 },
        riskTier: "high",
        mode: "learned",
        protective: [],
        drivers: [{ reason: "Long time since the last order", feature: "recency_days", contribution: 1.2, evidence: [{ messageId: "m-1", ts: 0, type: "track", name: "Order Completed" }] }],
        recommendations: [{ itemId: "y", name: "Mug & saucer", reason: "bought together" }],
        boughtAfter: ["y"],
        strategy: "Win them back",
      },
    ],
    runtimeSeconds: 4,
  };
}

describe("churn figures", () => {
  test("a perfect ranking has AUC 1, finds every churner by the churn rate and lifts the top decile by 1 / churn rate", () => {
    const { labels, p } = scores(0);
    const m = scoreChurnModel("m", "m", p, labels);
    expect(m.auc).toBe(1);
    expect(m.liftTopDecile).toBeCloseTo(1 / 0.3, 9);
    expect(gainsCurve(p, labels)[3]).toBe(1);
    expect(m.roc[0]).toEqual([0, 0]);
    expect(m.roc.at(-1)).toEqual([1, 1]);
  });

  test("tied scores move the ROC curve in one step and the curve is thinned to maxPoints", () => {
    expect(rocCurve([1, 1, 0, 0], [1, 0, 1, 0])).toEqual([[0, 0], [0.5, 0.5], [1, 1]]);
    const many = Array.from({ length: 1000 }, (_, i) => i);
    expect(rocCurve(many, many.map((i) => i % 2), 50)).toHaveLength(50);
  });

  test("lift is NaN when nobody churned", () => expect(liftTopDecile([0.1, 0.2], [0, 0])).toBeNaN());
});

describe("recommendation split", () => {
  test("targets are the items bought in the horizon that were not bought before the cutoff", () => {
    const split = recSplit(
      [{ customerId: "a", events: [{ ts: 0, itemId: "x", kind: "purchase" }, { ts: 11 * DAY, itemId: "x", kind: "purchase" }, { ts: 12 * DAY, itemId: "z", kind: "purchase" }] }],
      10 * DAY,
      30 * DAY,
      true,
    );
    expect(split.cases.map((c) => [...c.relevant])).toEqual([["z"]]);
    expect([...split.catalogue]).toEqual(["x"]);
  });
});

describe("report HTML", () => {
  const r = report();
  const html = reportHtml(r);

  test("every figure of the JSON is a table cell with its exact value and its rounded text", () => {
    const cells = figureCells(r);
    expect(cells.length).toBe(2 * 4 + 3 * 3);
    for (const c of cells) {
      const value = Number.isFinite(c.value) ? String(c.value) : "NaN";
      expect(html).toContain(`data-metric="${c.key}" data-value="${value}">${formatFigure(c.value)}</td>`);
    }
  });

  test("ROC, calibration and gains charts are inline SVG with one line per model", () => {
    for (const id of ["roc", "calibration", "gains"]) {
      const svg = html.slice(html.indexOf(`<svg id="${id}"`), html.indexOf("</svg>", html.indexOf(`<svg id="${id}"`)));
      expect(svg.match(/<polyline class="series"/g)?.length).toBe(2);
    }
  });

  test("behavioural predictions: every figure is a table cell and the weekly repeat-purchase curve has actual, Lifeline and both baselines", () => {
    const withPredictions = { ...r, predictions: scoredFixture() };
    const page = reportHtml(withPredictions);
    const cells = figureCells(withPredictions);
    expect(cells.length).toBe(2 * 4 + 3 * 3 + 3 * 4 + 3);
    for (const c of cells.filter((c) => c.key.startsWith("predictions."))) {
      const value = Number.isFinite(c.value) ? String(c.value) : "NaN";
      expect(page).toContain(`data-metric="${c.key}" data-value="${value}">${formatFigure(c.value)}</td>`);
    }
    const svg = page.slice(page.indexOf('<svg id="repeat-curve"'), page.indexOf("</svg>", page.indexOf('<svg id="repeat-curve"')));
    expect([...svg.matchAll(/data-series="(\w+)" points="([^"]+)"/g)].map((m) => [m[1], m[2]!.split(" ").length])).toEqual(
      ["actual", "lifeline", "bgnbdGg", "lastPeriod"].map((k) => [k, withPredictions.predictions.curve.days.length + 1]),
    );
    expect(html).not.toContain("repeat-curve");
  });

  test("is self-contained: no script, no external reference, and data is escaped", () => {
    expect(html).not.toMatch(/<script|<link|src=|https?:\/\//i);
    expect(html).toContain("c-&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(html).toContain("Recency &lt;only&gt;");
    expect(html).toContain("Mug &amp; saucer");
  });

  test("shows the run's warnings, escaped", () => expect(html).toContain(`<p class="warning">a &lt;warning&gt;</p>`));
});
