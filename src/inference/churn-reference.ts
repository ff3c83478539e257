/**
 * The reference customer every churn explanation is measured from: the median feature values of
 * the customers who stayed in the latest labelled snapshot (or, before any outcome is known, of
 * every buying customer), per band of tenure, so a customer 11 days old is compared with stayers
 * 11 days old ("customers who stay have 3 orders by then"). Pure.
 */
import { z } from "zod";
import { FEATURE_NAMES, type FeatureName } from "../../pipelines/churn-features";

const MIN_PER_BAND = 30;
const MAX_BANDS = 4;

export const churnReferenceSchema = z.object({
  /** `stayers`: customers who bought again within the horizon; `population`: every buying customer (no outcomes known yet). */
  kind: z.enum(["stayers", "population"]),
  bands: z
    .array(
      z.object({
        /** Upper end of the band's tenure (days); null for the last band. */
        upToTenureDays: z.number().nullable(),
        customers: z.number().int(),
        /** Median per feature; null where no customer of the band had a value. */
        values: z.record(z.string(), z.number().nullable()),
      }),
    )
    .min(1),
});
export type ChurnReference = z.infer<typeof churnReferenceSchema>;

export type ReferencePoint = { values: Record<FeatureName, number>; label: string; description: string };

/** Tenure bands at quantiles of the group, each of at least MIN_PER_BAND customers. */
export function fitReference(rows: readonly Record<FeatureName, number>[], kind: ChurnReference["kind"]): ChurnReference {
  const sorted = [...rows].sort((a, b) => a.tenure_days - b.tenure_days);
  const bandCount = Math.max(1, Math.min(MAX_BANDS, Math.floor(sorted.length / MIN_PER_BAND)));
  const bands: ChurnReference["bands"] = [];
  for (let b = 0; b < bandCount; b++) {
    const members = sorted.slice(Math.floor((b * sorted.length) / bandCount), Math.floor(((b + 1) * sorted.length) / bandCount));
    const last = b === bandCount - 1;
    bands.push({
      upToTenureDays: last ? null : members.at(-1)!.tenure_days,
      customers: members.length,
      values: Object.fromEntries(FEATURE_NAMES.map((f) => [f, median(members.map((m) => m[f]))])),
    });
  }
  if (bands.length === 0 || bands[0]!.customers === 0) bands.splice(0, bands.length, { upToTenureDays: null, customers: 0, values: Object.fromEntries(FEATURE_NAMES.map((f) => [f, null])) });
  return { kind, bands };
}

/** The reference for a customer of this tenure; a feature the band has no value for takes the customer's own (it then explains nothing). */
export function referenceFor(reference: ChurnReference, customer: Record<FeatureName, number>): ReferencePoint {
  const index = reference.bands.findIndex((b) => b.upToTenureDays === null || customer.tenure_days <= b.upToTenureDays);
  const band = reference.bands[index < 0 ? reference.bands.length - 1 : index]!;
  const values = Object.fromEntries(
    FEATURE_NAMES.map((f) => {
      const r = band.values[f];
      const own = customer[f];
      return [f, r === null || r === undefined || Number.isNaN(own) ? own : r];
    }),
  ) as Record<FeatureName, number>;
  const who = reference.kind === "stayers" ? "customers who stay" : "typical customers";
  const from = index <= 0 ? 0 : reference.bands[index - 1]!.upToTenureDays!;
  const span = band.upToTenureDays === null ? `over ${Math.round(from)} days as customers` : `${Math.round(from)}–${Math.round(band.upToTenureDays)} days as customers`;
  return {
    values,
    label: who,
    description: `the median of ${band.customers} ${who === "customers who stay" ? "customers who bought again within the horizon" : "buying customers"}, ${reference.bands.length > 1 ? span : "of any tenure"}`,
  };
}

function median(xs: number[]): number | null {
  const finite = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!finite.length) return null;
  const mid = finite.length >> 1;
  return finite.length % 2 ? finite[mid]! : (finite[mid - 1]! + finite[mid]!) / 2;
}
