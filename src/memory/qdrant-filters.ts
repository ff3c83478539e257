import type { Schemas } from "@qdrant/js-client-rest";
import type { MemoryFilter } from "./memory-store";

// Every filter here is on a field that init() indexes (or on point ids), so strict mode
// (unindexed_filtering_retrieve / _update = false, Qdrant Cloud's default) accepts it.

export function customerFilter(customerId: string): Schemas["Filter"] {
  return { must: [{ key: "customerId", match: { value: customerId } }] };
}

export function eventFilter(filter: MemoryFilter, customerId?: string): Schemas["Filter"] {
  const must: Schemas["Condition"][] = [];
  if (customerId !== undefined) must.push({ key: "customerId", match: { value: customerId } });
  if (filter.types) must.push({ key: "type", match: { any: filter.types } });
  if (filter.stages) must.push({ key: "stage", match: { any: filter.stages } });
  if (filter.since !== undefined || filter.until !== undefined) must.push({ key: "ts", range: { gte: filter.since, lt: filter.until } });
  return { must };
}

/**
 * `update_filter` that lets each point replace its stored copy only when the stored copy's
 * `version` is older, or missing: a range never matches a missing field, so the condition is
 * "not (version ≥ mine)" rather than "version < mine". Points not stored yet are inserted.
 */
export function olderVersionsOnly(points: { id: string; version: number }[]): Schemas["Filter"] {
  return {
    should: points.map(({ id, version }) => ({ must: [{ has_id: [id] }], must_not: [{ key: "version", range: { gte: version } }] })),
  };
}

/** `update_filter` that never matches a stored point: insert when absent, otherwise leave it (update_mode insert_only before 1.17). */
export function insertOnly(id: string): Schemas["Filter"] {
  return { must_not: [{ has_id: [id] }] };
}

/** Customer points that count in similarity: a projection with events (tombstones and the meta point have no weight). */
export function activeCustomers(exceptId: string): Schemas["Filter"] {
  return { must: [{ key: "weight", range: { gt: 0 } }], must_not: [{ has_id: [exceptId] }] };
}
