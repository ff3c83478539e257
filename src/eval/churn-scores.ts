/**
 * Churn figures for one set of scores: AUC, PR-AUC, Brier, calibration table, lift in the top
 * decile, and the curves the report draws. Pure.
 */
import { auc, brier, calibrationTable, prAuc, type CalibrationBin } from "../../pipelines/metrics";

export type ChurnModelResult = {
  name: string;
  label: string;
  auc: number;
  prAuc: number;
  brier: number;
  /** churn rate among the 10% scored riskiest ÷ the overall churn rate */
  liftTopDecile: number;
  calibration: CalibrationBin[];
  /** [false-positive rate, true-positive rate], from (0,0) to (1,1) */
  roc: [number, number][];
  /** share of churners found among the riskiest 0%, 10%, …, 100% */
  gains: number[];
};

/** Indices by score, riskiest first; ties keep input order. */
const riskiestFirst = (scores: readonly number[]) => scores.map((_, i) => i).sort((i, j) => scores[j]! - scores[i]! || i - j);

export function rocCurve(scores: readonly number[], labels: readonly number[], maxPoints = 200): [number, number][] {
  const order = riskiestFirst(scores);
  const positives = labels.reduce((s, y) => s + y, 0);
  const negatives = labels.length - positives;
  if (!positives || !negatives) return [[0, 0], [1, 1]];
  const points: [number, number][] = [[0, 0]];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k]!;
    if (labels[i] === 1) tp++;
    else fp++;
    // One point per distinct score: tied customers move the curve together.
    const next = order[k + 1];
    if (next === undefined || scores[next] !== scores[i]) points.push([fp / negatives, tp / positives]);
  }
  if (points.length <= maxPoints) return points;
  const step = (points.length - 1) / (maxPoints - 1);
  return Array.from({ length: maxPoints }, (_, k) => points[Math.round(k * step)]!);
}

export function gainsCurve(scores: readonly number[], labels: readonly number[]): number[] {
  const order = riskiestFirst(scores);
  const positives = labels.reduce((s, y) => s + y, 0) || 1;
  return Array.from({ length: 11 }, (_, d) => {
    const top = Math.round((d / 10) * order.length);
    let found = 0;
    for (let k = 0; k < top; k++) found += labels[order[k]!]!;
    return found / positives;
  });
}

export function liftTopDecile(scores: readonly number[], labels: readonly number[]): number {
  const order = riskiestFirst(scores);
  const top = Math.max(1, Math.round(order.length / 10));
  let found = 0;
  for (let k = 0; k < top; k++) found += labels[order[k]!]!;
  const base = labels.reduce((s, y) => s + y, 0) / labels.length;
  return base ? found / top / base : Number.NaN;
}

/**
 * `probabilities` feed Brier and calibration; `rankScores` (default: the probabilities) feed
 * the ranking figures, for baselines whose natural score is not a probability.
 */
export function scoreChurnModel(name: string, label: string, probabilities: number[], labels: number[], rankScores = probabilities): ChurnModelResult {
  return {
    name,
    label,
    auc: auc(rankScores, labels),
    prAuc: prAuc(rankScores, labels),
    brier: brier(probabilities, labels),
    liftTopDecile: liftTopDecile(rankScores, labels),
    calibration: calibrationTable(probabilities, labels, 10),
    roc: rocCurve(rankScores, labels),
    gains: gainsCurve(rankScores, labels),
  };
}
