/**
 * When the models should be fitted again without anyone asking: there are none, they were
 * stored in an older format, they are older than the refit interval, the last fit had too little
 * data and more has come, or customers or purchases grew by a share (a fifth by default) since.
 * Pure: the caller reads the counts and the last fit's metadata.
 */
import { z } from "zod";
import type { Config } from "../config";
import { CHURN_ARTIFACTS_FORMAT } from "./churn-artifacts";

export const dataStatsSchema = z.object({ customers: z.coerce.number().int().default(0), purchases: z.coerce.number().int().default(0) });
export type DataStats = z.infer<typeof dataStatsSchema>;

/** What the refit policy needs of the last churn fit. */
export const fitMetaSchema = z.object({
  format: z.number().int(),
  /** Wall-clock time of the fit (epoch ms). */
  fittedAtMs: z.number(),
  /** The counts when it started. */
  stats: dataStatsSchema,
  /** false while the data was too little for a learned model. */
  learned: z.boolean(),
});
export type FitMeta = z.infer<typeof fitMetaSchema>;

export type RefitPolicy = { format: number; growth: number; intervalMs: number; minIntervalMs: number };

export const refitPolicy = (config: Config): RefitPolicy => ({
  format: CHURN_ARTIFACTS_FORMAT,
  growth: config.LIFELINE_REFIT_GROWTH,
  intervalMs: config.LIFELINE_REFIT_INTERVAL_MS,
  minIntervalMs: config.LIFELINE_REFIT_MIN_INTERVAL_MS,
});

/** Below this many new customers or purchases, growth alone does not refit. */
const MIN_NEW = 5;

export function refitReason(meta: FitMeta | undefined, stats: DataStats, nowMs: number, policy: RefitPolicy): string | undefined {
  const hasData = stats.customers > 0 || stats.purchases > 0;
  if (!meta) return hasData ? "no model fitted yet" : undefined;
  if (meta.format !== policy.format) return `the stored model has format ${meta.format}; this version needs ${policy.format}`;
  const age = nowMs - meta.fittedAtMs;
  if (age >= policy.intervalMs) return `the model is older than LIFELINE_REFIT_INTERVAL_MS (${Math.round(age / 60_000)} min)`;
  if (age < policy.minIntervalMs) return undefined;
  const then = meta.stats;
  if (!meta.learned && (stats.purchases > then.purchases || stats.customers > then.customers))
    return `the last fit had too little labelled history and data has arrived since (${then.purchases} → ${stats.purchases} purchases)`;
  const grew = (now: number, before: number) => now - before >= MIN_NEW && now >= before * (1 + policy.growth);
  if (grew(stats.purchases, then.purchases)) return `purchases grew from ${then.purchases} to ${stats.purchases}`;
  if (grew(stats.customers, then.customers)) return `customers grew from ${then.customers} to ${stats.customers}`;
  return undefined;
}
