import type { CleanEvent } from "../../pipelines/clean-event";
import { byTime, dayKey, type Profile } from "../../pipelines/profile";

/**
 * How a profile is laid out in its Redis hash: `core` holds everything but the long sections,
 * and each purchase (`p:<messageId>`), item (`i:<itemId>`) and day of activity (`d:<day>`) has
 * a field of its own. A write then sends only the fields its events changed, so what a new
 * event costs does not grow with the customer's history.
 */
const CORE = "core";
const PURCHASE = "p:";
const ITEM = "i:";
const DAY = "d:";
/** The single field profiles were stored in before this layout (read, and converted on their next write). */
export const LEGACY_JSON = "json";

type Core = Omit<Profile, "purchases" | "items" | "dailyActivity" | "dailyKinds">;
type DayValue = { n?: number; k?: Profile["dailyKinds"][string] };

function coreJson(p: Profile): string {
  const { purchases: _p, items: _i, dailyActivity: _a, dailyKinds: _k, ...core } = p;
  return JSON.stringify(core satisfies Core);
}

function dayJson(p: Profile, day: string): string {
  const value: DayValue = {};
  if (Object.hasOwn(p.dailyActivity, day)) value.n = p.dailyActivity[day];
  if (p.dailyKinds && Object.hasOwn(p.dailyKinds, day)) value.k = p.dailyKinds[day];
  return JSON.stringify(value);
}

const days = (p: Profile) => new Set([...Object.keys(p.dailyActivity), ...Object.keys(p.dailyKinds ?? {})]);

/** Every field of a profile, as flat [field, value, field, value, …]. */
export function allFields(p: Profile): string[] {
  const out = [CORE, coreJson(p)];
  for (const purchase of p.purchases) out.push(PURCHASE + purchase.messageId, JSON.stringify(purchase));
  for (const [id, item] of Object.entries(p.items)) out.push(ITEM + id, JSON.stringify(item));
  for (const day of days(p)) out.push(DAY + day, dayJson(p, day));
  return out;
}

/**
 * The fields to set and delete to turn `before`'s hash into `after`'s, where `after` is `before`
 * with `events` folded in: the fold changes only the items and days of those events, adds their
 * purchases, and drops what its caps push out (found by comparing keys, which costs no JSON).
 */
export function changedFields(before: Profile, after: Profile, events: readonly CleanEvent[]): { set: string[]; del: string[] } {
  const set = [CORE, coreJson(after)];
  const del: string[] = [];

  const hadPurchase = new Set(before.purchases.map((x) => x.messageId));
  const hasPurchase = new Set<string>();
  for (const purchase of after.purchases) {
    hasPurchase.add(purchase.messageId);
    if (!hadPurchase.has(purchase.messageId)) set.push(PURCHASE + purchase.messageId, JSON.stringify(purchase));
  }
  for (const id of hadPurchase) if (!hasPurchase.has(id)) del.push(PURCHASE + id);

  const touchedItems = new Set(events.flatMap((e) => e.products.map((x) => x.id)));
  for (const id of touchedItems) if (Object.hasOwn(after.items, id)) set.push(ITEM + id, JSON.stringify(after.items[id]));
  for (const id of Object.keys(before.items)) if (!Object.hasOwn(after.items, id)) del.push(ITEM + id);

  const afterDays = days(after);
  for (const day of new Set(events.map((e) => dayKey(e.ts)))) if (afterDays.has(day)) set.push(DAY + day, dayJson(after, day));
  for (const day of days(before)) if (!afterDays.has(day)) del.push(DAY + day);
  return { set, del };
}

/** The profile a hash holds (either layout); undefined when there is none. */
export function profileFromFields(hash: Record<string, string>): Profile | undefined {
  if (hash[LEGACY_JSON]) return JSON.parse(hash[LEGACY_JSON]) as Profile;
  if (!hash[CORE]) return undefined;
  const p = JSON.parse(hash[CORE]) as Profile;
  p.purchases = [];
  p.dailyActivity = {};
  p.dailyKinds = {};
  const items: [string, Profile["items"][string]][] = [];
  const dayFields: string[] = [];
  for (const field in hash) {
    if (field.startsWith(PURCHASE)) p.purchases.push(JSON.parse(hash[field]!) as Profile["purchases"][number]);
    else if (field.startsWith(ITEM)) items.push([field.slice(ITEM.length), JSON.parse(hash[field]!) as Profile["items"][string]]);
    else if (field.startsWith(DAY)) dayFields.push(field);
  }
  p.purchases.sort(byTime);
  // fromEntries defines each key as data (an item id such as "__proto__" stays an item).
  p.items = Object.fromEntries(items);
  // Days in calendar order, as a reader of dailyActivity would expect.
  for (const field of dayFields.sort()) {
    const day = field.slice(DAY.length);
    const value = JSON.parse(hash[field]!) as DayValue;
    if (value.n !== undefined) p.dailyActivity[day] = value.n;
    if (value.k !== undefined) p.dailyKinds[day] = value.k;
  }
  return p;
}
