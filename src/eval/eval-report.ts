/** The JSON `bun run eval` writes per run (eval-<name>.json); the HTML report is built from it. */
import type { CalibrationBin, CoverageBin } from "../../pipelines/metrics";
import type { ChurnChoice } from "../inference/churn-choice";
import type { RecommenderChoice } from "../inference/recommender-choice";
import type { ChurnModelResult } from "./churn-scores";
import type { PredictionScores } from "./prediction-scores";
import type { RecMethodResult } from "./rec-scores";

export type { CalibrationBin, ChurnModelResult, RecMethodResult };

export type EvalEvidence = { messageId: string; ts: number; type: string; name: string };

export type EvalExample = {
  customerId: string;
  /** what happened in the horizon */
  churned: boolean;
  probability: number;
  interval: { low: number; high: number };
  riskTier: string;
  mode: string;
  drivers: { reason: string; feature: string; contribution: number; evidence: EvalEvidence[] }[];
  protective: { reason: string; feature: string; contribution: number }[];
  recommendations: { itemId: string; name?: string; reason: string }[];
  /** new items the customer bought in the horizon */
  boughtAfter: string[];
  strategy: string;
};

export type EvalReport = {
  /** the run's name (--name, the data set, or the mapping's name) */
  dataset: string;
  note: string;
  generatedAt: string;
  /** the mapping that read the input, for the history and for what happened after the cutoff */
  mapping: string;
  input: string;
  cutoff: string;
  cutoffIso: string;
  horizonDays: number;
  /** What the mapping made of the whole input, both sides of the cutoff. */
  data: {
    files: number;
    /** events the system would keep */
    events: number;
    /** events the API would refuse or the workers drop */
    unusable: number;
    orders: number;
    firstEventIso: string;
    lastEventIso: string;
    evaluates: "identified customers" | "anonymous visitors";
  };
  /** what weakens the figures (e.g. a horizon past the data's end) */
  warnings: string[];
  sample: { requested: number | null; eligible: number; customers: number };
  system: {
    imported: { rows: number; events: number; accepted: number; duplicates: number; rejected: number; skipped: number };
    profiles: number;
    missing: number;
    model: { version: string; learned: boolean; trainedAt: string; note?: string; customers: number };
    seconds: { import: number; drain: number; refit: number; score: number; total: number };
  };
  churn: {
    customers: number;
    churnRate: number;
    models: ChurnModelResult[];
    /** How often Lifeline's 90 % intervals hold the observed churn rate of their decile bin. */
    intervalCoverage: { level: number; coverage: number; bins: CoverageBin[] };
    /** How the refit chose the model on the tenant's own history (null: too little of it). */
    choice: ChurnChoice | null;
    /** What the shipped model draws on: its behaviour features, and the explicit signals fitted on this data. */
    uses: { features: string[]; fittedSignals: string[] };
  };
  /** Expected purchases and spend against what customers did (prediction-scores.ts). */
  predictions?: PredictionScores;
  recs?: {
    k: number;
    evaluated: number;
    catalogue: number;
    methods: RecMethodResult[];
    hrRatioToMostPopular: number;
    meetsTarget: boolean;
    /** How the refit chose the recommender's options on the tenant's last horizon. */
    choice: RecommenderChoice | null;
    rebuy: { repeatShare: number; isRebought: boolean } | null;
    reference?: Record<string, number>;
  };
  examples: EvalExample[];
  runtimeSeconds: number;
};

/** Figures of the report's table, one per row and column: the browser test compares them with the JSON. */
export function figureCells(report: EvalReport): { key: string; value: number }[] {
  const cells: { key: string; value: number }[] = [];
  for (const m of report.churn.models)
    for (const f of ["auc", "prAuc", "brier", "liftTopDecile"] as const) cells.push({ key: `churn.${m.name}.${f}`, value: m[f] });
  for (const m of report.recs?.methods ?? []) for (const f of ["hr", "ndcg", "coverage"] as const) cells.push({ key: `recs.${m.name}.${f}`, value: m[f] });
  for (const m of report.predictions?.methods ?? [])
    for (const t of ["purchases", "spend"] as const) for (const f of ["mae", "bias"] as const) cells.push({ key: `predictions.${m.name}.${t}.${f}`, value: m[t][f] });
  const p = report.predictions;
  if (p)
    cells.push(
      { key: "predictions.coverage.purchases", value: p.coverage.purchases },
      { key: "predictions.coverage.spend", value: p.coverage.spend },
      { key: "predictions.curveRatio", value: p.curveRatioAtHorizon },
    );
  return cells;
}

export const formatFigure = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : "n/a");
