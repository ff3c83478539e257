/**
 * Who is evaluated and what really happened to them after the cutoff, from the mapped
 * histories. Pure.
 */
import { DAY_MS } from "../../pipelines/bgnbd";
import type { CustomerHistory } from "../../pipelines/churn-features";
import type { RecHistory } from "../../pipelines/recommend";
import { churnLabel } from "../inference/churn-model";
import { isAnonymousCustomer } from "../profiles/profile-store";
import type { EvalRun } from "./eval-args";
import { EvalUsageError } from "./eval-usage-error";
import type { MappedCustomer, MappedHistories } from "./mapped-history";
import { recSplit, type RecSplit } from "./rec-scores";

export type EvalPopulation = {
  /** customers with an order or a product event before the cutoff */
  eligible: string[];
  /** true when the data names no customer (no userId), so anonymous visitors are evaluated */
  isAnonymous: boolean;
};

/**
 * Identified customers (a userId) with an order or a product event before the cutoff. An
 * anonymous visitor's later visits usually come under another id, so visitors are evaluated
 * only when the data names no customer at all.
 */
export function evalPopulation(h: MappedHistories, cutoffMs: number): EvalPopulation {
  const active = (c: MappedCustomer) => c.purchases.some((p) => p.ts < cutoffMs) || c.items.some((e) => e.ts < cutoffMs);
  const ids = [...h.customers.keys()];
  const isAnonymous = ids.every(isAnonymousCustomer);
  const eligible = ids.filter((id) => (isAnonymous || !isAnonymousCustomer(id)) && active(h.customers.get(id)!));
  return { eligible, isAnonymous };
}

/** A deterministic sample: the n ids with the smallest hash (all when n is absent or larger). */
export function sampleIds(ids: readonly string[], n: number | undefined): Set<string> {
  if (n === undefined || n >= ids.length) return new Set(ids);
  const hashed = ids.map((id) => ({ id, h: Bun.hash(`lifeline-eval:${id}`) }));
  hashed.sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
  return new Set(hashed.slice(0, n).map((x) => x.id));
}

export type EvalTruth = {
  /** Customers with an order before the cutoff, and 1 where they ordered nothing within the horizon after it. */
  churn: { histories: CustomerHistory[]; labels: (0 | 1)[] };
  /** New items bought within the horizon; absent when the data carries no product ids. */
  recs?: RecSplit;
};

export function evalTruth(h: MappedHistories, customers: ReadonlySet<string>, cutoffMs: number, horizonDays: number): EvalTruth {
  const definition = { horizonDays, basis: "purchase" as const, explicitCancellation: false };
  const histories: CustomerHistory[] = [];
  const recHistories: RecHistory[] = [];
  for (const id of customers) {
    const c = h.customers.get(id);
    if (!c) continue;
    if (c.purchases.some((p) => p.ts < cutoffMs)) histories.push({ customerId: id, firstSeenMs: c.purchases[0]!.ts, purchases: c.purchases, events: [] });
    if (c.items.length) recHistories.push({ customerId: id, events: c.items });
  }
  return {
    churn: { histories, labels: histories.map((x) => churnLabel(x, cutoffMs, definition)) },
    // Any product event before the cutoff makes a customer a case (a viewer may buy); every item event kind feeds co-occurrence.
    ...(recHistories.length ? { recs: recSplit(recHistories, cutoffMs, horizonDays * DAY_MS, false) } : {}),
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Throws an EvalUsageError when the data and the window leave nothing to evaluate; returns
 * warnings for what weakens the figures.
 */
export function checkEvaluable(h: MappedHistories, population: EvalPopulation, run: Pick<EvalRun, "cutoff" | "cutoffMs" | "horizonDays" | "input" | "mapping">): string[] {
  if (h.orders === 0)
    throw new EvalUsageError(
      `--mapping ${run.mapping.name}: its events from ${run.input} hold no order ("Order Completed"), so there is no purchase to predict; map your orders to that event name ("event": "Order Completed", or "purchase" in an "event" column's "map")`,
    );
  const range = `the data runs from ${iso(h.firstEventMs)} to ${iso(h.lastEventMs)}`;
  if (run.cutoffMs > h.lastEventMs) throw new EvalUsageError(`--cutoff ${run.cutoff}: nothing happens after it (${range}); pick an earlier cutoff`);
  if (population.eligible.length === 0)
    throw new EvalUsageError(`--cutoff ${run.cutoff}: no ${population.isAnonymous ? "visitor" : "customer"} has an order or a product event before it (${range}); pick a later cutoff`);
  const warnings: string[] = [];
  const horizonEndMs = run.cutoffMs + run.horizonDays * DAY_MS;
  // Past the data's end every customer looks churned: the data stopped, not the customer.
  if (horizonEndMs - h.lastEventMs > 0.1 * run.horizonDays * DAY_MS)
    warnings.push(`--horizon-days ${run.horizonDays}: the data ends ${((horizonEndMs - h.lastEventMs) / DAY_MS).toFixed(1)} days before the horizon does (${range}), so churn is overstated; use a shorter horizon or an earlier cutoff`);
  if (population.isAnonymous) warnings.push("the data names no customer (no userId), so anonymous visitors are evaluated; a visitor who returns under a new id looks churned");
  return warnings;
}
