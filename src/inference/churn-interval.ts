/**
 * How sure a churn probability is. At refit the chosen model's out-of-time predictions for the
 * latest labelled customers are kept with what those customers did (the calibration sample):
 * near a probability p, how far such predictions were from what happened a period later is the
 * best measure of how far p may be from the churn rate of customers like this one. The interval
 * is centred on p, in log-odds, with a half-width of z·max(|that miss|, its sampling error) over
 * the sample's customers nearest p: narrow where the model was right about many similar customers,
 * wide where it was off or saw few. A customer's signals shift it with their log-odds. Pure.
 */
import { z } from "zod";
import { betaQuantile } from "../../pipelines/incomplete-beta";
import { normalQuantile } from "../../pipelines/normal";
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

/** z of the central INTERVAL_LEVEL of a normal distribution (90 %: 1.645). */
const Z = normalQuantile(1 - (1 - INTERVAL_LEVEL) / 2);

/**
 * The interval of a behavioural probability `p`, moved by `shiftLogOdds` (the signals added on
 * top). Without a sample: the base rate's interval as if `fallback.count` customers had been seen.
 */
export function churnInterval(sample: CalibrationSample | undefined, p: number, shiftLogOdds: number, fallback: { rate: number; count: number }): ChurnInterval {
  const move = (q: number) => sigmoid(logit(q) + shiftLogOdds);
  if (!sample || sample.p.length < MIN_WINDOW) {
    const n = Math.max(2, fallback.count);
    const [low, high] = jeffreys(Math.round(fallback.rate * n), n);
    return { level: INTERVAL_LEVEL, low: move(low), high: move(high), basedOn: Math.max(0, fallback.count) };
  }
  const n = sample.p.length;
  const w = Math.min(n, Math.max(MIN_WINDOW, Math.min(MAX_WINDOW, Math.round(n / 10))));
  const from = Math.max(0, Math.min(n - w, lowerBound(sample.p, p) - Math.floor(w / 2)));
  let churned = 0;
  let predicted = 0;
  for (let i = from; i < from + w; i++) {
    churned += sample.y[i]!;
    predicted += sample.p[i]!;
  }
  // Observed rate (Jeffreys posterior mean) and its sampling error, in log-odds.
  const observed = (churned + 0.5) / (w + 1);
  const sampling = 1 / Math.sqrt(w * observed * (1 - observed));
  const miss = Math.abs(logit(observed) - logit(predicted / w));
  const half = Z * Math.max(miss, sampling);
  const centre = logit(p) + shiftLogOdds;
  return { level: INTERVAL_LEVEL, low: sigmoid(centre - half), high: sigmoid(centre + half), basedOn: w };
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
