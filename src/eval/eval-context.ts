import type { Insight } from "../inference/insights";
import type { EvalRun } from "./eval-args";
import type { EvalTruth } from "./eval-truth";
import type { SystemRun } from "./system-run";

/** What a report section works from: the run, what really happened, and what the system answered. */
export type EvalContext = {
  run: EvalRun;
  truth: EvalTruth;
  system: SystemRun;
  /** The system's answer for a customer, as of the cutoff (undefined: not found). */
  insightOf(customerId: string): Insight | undefined;
};
