import { expect, test } from "bun:test";
import type { CleanEvent } from "../../pipelines/clean-event";
import { historyFromProfile } from "../../pipelines/history-from-profile";
import { applyEvents, emptyProfile } from "../../pipelines/profile";
import { churnArtifactsSchema } from "../../src/inference/churn-artifacts";
import { fitModels } from "../../src/inference/refit";
import { insightPredictions } from "../../src/inference/insight-predictions";

// A new deployment's first hours: every customer's orders fall within minutes of each other.
test("models fitted on histories only minutes long read back, and predict numbers", () => {
  const start = Date.UTC(2024, 0, 1);
  let seq = 0;
  const order = (userId: string, ts: number): CleanEvent => ({
    messageId: `m-${seq++}`, type: "track", name: "Order Completed", userId, ts, receivedAt: ts, properties: {},
    products: [{ id: `p-${seq % 7}`, quantity: 1, price: 3.5 }], revenue: 3.5, currency: "GBP", stage: "conversion", flags: [],
  });
  const population = Array.from({ length: 60 }, (_, c) =>
    applyEvents(emptyProfile(`c${c}`), [order(`c${c}`, start + c * 1_000), order(`c${c}`, start + c * 1_000 + 60_000 * (c % 3))]),
  );
  const asOf = start + 3_600_000;
  const fitted = fitModels(population, asOf, { horizonDays: 90, basis: "purchase", explicitCancellation: true });
  const stored = churnArtifactsSchema.parse(JSON.parse(JSON.stringify(fitted.churn)));
  const predictions = insightPredictions(historyFromProfile(population[0]!), stored, asOf, "GBP");
  expect(Number.isFinite(predictions.value.percentile)).toBe(true);
});
