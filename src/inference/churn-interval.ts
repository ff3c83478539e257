/**
 * How sure a churn probability is. At refit the model's out-of-time predictions for the latest
 * labelled customers are kept with what those customers did (the calibration sample). For a new
 * probability p, the interval is the central 90 % of the beta posterior (Jeffreys prior) of the
 * churn rate among the sample's customers whose predictions were nearest p: where the model was
 * well calibrated and saw many such customers it is narrow; where it saw few, or was off, it is
 * wide. A customer's signals shift it with their log-odds. Pure.
 */
import { z } from "zod";
import { betaQuantile } from "../../pipelines/incomplete-beta";
import { logit, sigmoid } from "../../pipelines/log-odds";

export const INTERVAL_LEVEL = 0.9;
const MIN_WINDOW = 30;
const MAX_WINDOW = 400;
const MAX_SAMPLE = 5_000;

/** Predictions (ascending) and outcomes of labelled customers the model did not train on. */
export const calibrationSampleSchema = z.object({ p: z.array(z.number()), y: z.array(z.number().int().min(0).max(1)) });
export type CalibrationSample = z.infer<typeof calibrationSampleSchema>;

export const churnIntervalSchema = z.object({
  level: z.number(),
  low: z.number(),
  high: z.number(),
  /** How many labelled customers with similar predictions it rests on (0: a base rate with little evidence). */
  basedOn: z.number().int(),
});
export type ChurnInterval = z.infer<typeof churnIntervalSchema>;

export function calibrationSample(probabilities: readonly number[], labels: readonly number[]): CalibrationSample {
  const order = probabilities.map((_, i) => i).sort((a, b) => probabilities[a]! - probabilities[b]!);
  // An even stride keeps the sample's shape when it has to be thinned.
  const stride = Math.max(1, order.length / MAX_SAMPLE);
  const kept: number[] = [];
  for (let k = 0; k < order.length && kept.length < MAX_SAMPLE; k++) if (Math.floor(k / stride) === kept.length) kept.push(order[k]!);
  return { p: kept.map((i) => probabilities[i]!), y: kept.map((i) => labels[i]!) };
}

const jeffreys = (churned: number, n: number): [number, number] => {
  const tail = (1 - INTERVAL_LEVEL) / 2;
  return [betaQuantile(tail, churned + 0.5, n - churned + 0.5), betaQuantile(1 - tail, churned + 0.5, n - churned + 0.5)];
};

/**
 * The interval of a behavioural probability `p`, moved by `shiftLogOdds` (the signals added on
 * top). Without a sample: the base rate's interval as if `fallbackCount` customers had been seen.
 */
export function churnInterval(sample: CalibrationSample | undefined, p: number, shiftLogOdds: number, fallback: { rate: number; count: number }): ChurnInterval {
  let low: number;
  let high: number;
  let basedOn: number;
  if (sample && sample.p.length >= MIN_WINDOW) {
    const n = sample.p.length;
    const w = Math.min(n, Math.max(MIN_WINDOW, Math.min(MAX_WINDOW, Math.round(n / 10))));
    const from = Math.max(0, Math.min(n - w, lowerBound(sample.p, p) - Math.floor(w / 2)));
    let churned = 0;
    for (let i = from; i < from + w; i++) churned += sample.y[i]!;
    [low, high] = jeffreys(churned, w);
    basedOn = w;
  } else {
    const n = Math.max(2, fallback.count);
    [low, high] = jeffreys(Math.round(fallback.rate * n), n);
    basedOn = Math.max(0, fallback.count);
  }
  const move = (q: number) => sigmoid(logit(q) + shiftLogOdds);
  return { level: INTERVAL_LEVEL, low: move(low), high: move(high), basedOn };
}

function lowerBound(sorted: readonly number[], v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
