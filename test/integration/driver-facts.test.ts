// Every driver of every customer states facts that are true of that customer: run over a real
// purchase history (the CDNOW sample, 2,357 customers), in the learned mode and before any
// labelled history exists (BG/NBD mode).
import { describe, expect, test } from "bun:test";
import { churnFeatures, FEATURE_DIRECTION, neighbourVector, type CustomerHistory, type FeatureName } from "../../pipelines/churn-features";
import { sharedData } from "../../scripts/lib/shared-data";
import { loadCdnow } from "../../src/eval/loaders/load-cdnow";
import { churnScorer, fitChurnArtifacts, type ChurnArtifacts } from "../../src/inference/churn-artifacts";
import { neighbourIndex } from "../../src/inference/churn-neighbours";
import type { ChurnPrediction } from "../../src/inference/churn-prediction";
import { referenceFor } from "../../src/inference/churn-reference";

const definition = { horizonDays: 182, basis: "purchase" as const, explicitCancellation: true };
const histories = await loadCdnow(sharedData("cdnow", "CDNOW_sample.txt"));

/** Features whose sentence starts with the customer's whole number of days or orders, then states the reference's after the semicolon. */
const COUNTED: Partial<Record<FeatureName, (v: number) => string>> = {
  recency_days: (v) => `Last order ${Math.round(v)} day`,
  frequency: (v) => `${Math.round(v)} order`,
  tenure_days: (v) => `Customer for ${Math.round(v)} day`,
  days_since_first_purchase: (v) => `First order ${Math.round(v)} day`,
  ipt_mean_days: (v) => `Usually ${Math.round(v)} day`,
};

function checkFacts(artifacts: ChurnArtifacts, history: CustomerHistory, asOfMs: number, p: ChurnPrediction) {
  const values = churnFeatures(history, asOfMs, { bgnbd: artifacts.bgnbd, horizonDays: definition.horizonDays, baseChurnRate: artifacts.baseChurnRate }).values;
  if (artifacts.neighbours?.vectors.length) values.neighbour_churn_rate = neighbourIndex(artifacts.neighbours).rate(neighbourVector(values));
  const reference = referenceFor(artifacts.reference, values).values;
  const own = new Set([...history.purchases.map((x) => x.messageId), ...history.events.map((e) => e.messageId)]);
  for (const d of p.drivers) expect(d.contribution).toBeGreaterThan(0);
  for (const d of p.protective) expect(d.contribution).toBeLessThan(0);
  for (const d of [...p.drivers, ...p.protective]) {
    for (const e of d.evidence) expect(own.has(e.messageId)).toBe(true);
    if (d.kind !== "behaviour") continue;
    const f = d.feature as FeatureName;
    // The numbers stated are the customer's and the reference's.
    expect(d.value).toBe(values[f]);
    expect(d.reference).toBe(reference[f]);
    const opening = COUNTED[f];
    if (opening) {
      expect(d.reason.startsWith(opening(d.value))).toBe(true);
      expect(d.reason.split("; ")[1]).toContain(String(Math.round(d.reference)));
    }
    // What it says raises the risk really is on the risky side of the reference.
    const direction = FEATURE_DIRECTION[f];
    if (direction !== 0 && d.value !== d.reference) expect(Math.sign(d.contribution)).toBe(Math.sign(direction * (d.value - d.reference)));
  }
}

describe("every driver of every customer states true facts", () => {
  test("with a learned model (CDNOW sample, as of 1998-01-01)", () => {
    const asOfMs = Date.UTC(1998, 0, 1);
    const artifacts = fitChurnArtifacts(histories, asOfMs, definition);
    expect(artifacts.choice).toBeDefined();
    const scorer = churnScorer(artifacts);
    let drivers = 0;
    for (const h of histories) {
      const p = scorer.score(h, asOfMs);
      checkFacts(artifacts, h, asOfMs, p);
      drivers += p.drivers.length + p.protective.length;
    }
    expect(drivers).toBeGreaterThan(histories.length);
  }, 300_000);

  test("before any outcome is known (BG/NBD mode, as of 1997-03-01)", () => {
    const asOfMs = Date.UTC(1997, 2, 1);
    const known = histories.filter((h) => h.firstSeenMs < asOfMs);
    const artifacts = fitChurnArtifacts(known, asOfMs, definition);
    expect(artifacts.model).toBeUndefined();
    const scorer = churnScorer(artifacts);
    for (const h of known) checkFacts(artifacts, h, asOfMs, scorer.score(h, asOfMs));
  }, 300_000);
});

