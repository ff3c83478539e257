/** Pure evaluation metrics for probabilistic binary classifiers. Labels are 0/1. */

/**
 * Area under the ROC curve by the rank-sum (Mann-Whitney) statistic; tied scores share
 * their average rank, so a tie between a positive and a negative counts one half.
 * NaN when either class is absent.
 */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => scores[i]! - scores[j]!);
  let positives = 0;
  let rankSumPositives = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        positives++;
        rankSumPositives += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSumPositives - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean squared error between predicted probability and outcome. */
export function brier(probabilities: ArrayLike<number>, labels: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < probabilities.length; i++) sum += (probabilities[i]! - labels[i]!) ** 2;
  return sum / probabilities.length;
}

/** Mean negative log-likelihood, probabilities clipped to [1e-12, 1 − 1e-12]. */
export function logLoss(probabilities: ArrayLike<number>, labels: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const p = Math.min(1 - 1e-12, Math.max(1e-12, probabilities[i]!));
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / probabilities.length;
}

/**
 * Area under the precision-recall curve as average precision (step-wise, ties broken by
 * treating a tied block as one threshold).
 */
export function prAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => scores[j]! - scores[i]!);
  let totalPositives = 0;
  for (let i = 0; i < n; i++) totalPositives += labels[i] === 1 ? 1 : 0;
  if (totalPositives === 0) return Number.NaN;
  let truePositives = 0;
  let seen = 0;
  let ap = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    let blockPositives = 0;
    while (j < n && scores[order[j]!] === scores[order[i]!]) {
      blockPositives += labels[order[j]!] === 1 ? 1 : 0;
      j++;
    }
    truePositives += blockPositives;
    seen = j;
    ap += (blockPositives / totalPositives) * (truePositives / seen);
    i = j;
  }
  return ap;
}

export type CalibrationBin = { bin: number; count: number; meanPredicted: number; observedRate: number };

/**
 * Reliability table: predictions sorted and cut into `bins` groups of (near) equal size
 * (deciles by default); each row compares the mean prediction with the observed rate.
 */
export function calibrationTable(
  probabilities: ArrayLike<number>,
  labels: ArrayLike<number>,
  bins = 10,
): CalibrationBin[] {
  const n = probabilities.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => probabilities[i]! - probabilities[j]!);
  const table: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const start = Math.floor((b * n) / bins);
    const end = Math.floor(((b + 1) * n) / bins);
    if (end <= start) continue;
    let sumP = 0;
    let sumY = 0;
    for (let k = start; k < end; k++) {
      sumP += probabilities[order[k]!]!;
      sumY += labels[order[k]!]!;
    }
    table.push({ bin: b + 1, count: end - start, meanPredicted: sumP / (end - start), observedRate: sumY / (end - start) });
  }
  return table;
}

/** Expected calibration error: count-weighted mean |predicted − observed| over the table. */
export function expectedCalibrationError(table: CalibrationBin[]): number {
  const total = table.reduce((s, r) => s + r.count, 0);
  return table.reduce((s, r) => s + (r.count / total) * Math.abs(r.meanPredicted - r.observedRate), 0);
}

export type CoverageBin = { bin: number; count: number; meanPredicted: number; observedRate: number; low: number; high: number; covered: boolean };

/**
 * How often intervals hold what happened: customers are put in `bins` equal-count bins by
 * predicted probability; a bin is covered when its observed rate lies within the mean of its
 * customers' intervals. `coverage` is the share of bins covered (a 90 % interval should cover
 * about 90 %).
 */
export function intervalCoverage(
  predictions: readonly { probability: number; low: number; high: number }[],
  labels: ArrayLike<number>,
  bins = 10,
): { coverage: number; bins: CoverageBin[] } {
  const order = predictions.map((_, i) => i).sort((a, b) => predictions[a]!.probability - predictions[b]!.probability);
  const out: CoverageBin[] = [];
  for (let b = 0; b < bins; b++) {
    const members = order.slice(Math.floor((b * order.length) / bins), Math.floor(((b + 1) * order.length) / bins));
    if (members.length === 0) continue;
    const mean = (f: (i: number) => number) => members.reduce((s, i) => s + f(i), 0) / members.length;
    const low = mean((i) => predictions[i]!.low);
    const high = mean((i) => predictions[i]!.high);
    const observedRate = mean((i) => labels[i]!);
    out.push({ bin: b, count: members.length, meanPredicted: mean((i) => predictions[i]!.probability), observedRate, low, high, covered: observedRate >= low && observedRate <= high });
  }
  return { coverage: out.length ? out.filter((b) => b.covered).length / out.length : Number.NaN, bins: out };
}
