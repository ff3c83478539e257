import { z } from "zod";
import { cleanProductSchema, type CleanEvent } from "./clean-event";
import { activityKind, activityKinds } from "./activity-kinds";
import { classifyRecovery, classifySignal, recoveryKindSchema, signalDetail, signalKindSchema } from "./explicit-signals";
import { conversionStage, defaultStageRules, lifecycleStage, lifecycleStages, type LifecycleStage, type StageRules } from "./lifecycle-stage";
import { eventTypes } from "./segment";

/** Caps that keep a profile a bounded Redis value however long the customer lives. */
export const profileLimits = {
  purchases: 500,
  recentEvents: 50,
  churnSignals: 50,
  recoveries: 50,
  stageTransitions: 200,
  dailyActivityDays: 400,
  items: 1000,
} as const;

const DAY_MS = 86_400_000;
/** Events that count as an order, add revenue and mark items purchased. */
export const PURCHASE = "Order Completed";
const REFUND = "Order Refunded";
const itemCounterByEvent: Record<string, "viewed" | "carted" | "purchased"> = {
  "Product Viewed": "viewed",
  "Product Added": "carted",
  [PURCHASE]: "purchased",
};

const count = z.number().int().nonnegative();
const stage = z.enum(lifecycleStages);
const at = z.number().int();

const purchaseSchema = z.object({
  messageId: z.string(),
  ts: at,
  revenue: z.number(),
  currency: z.string().optional(),
  products: z.array(cleanProductSchema),
});
const recentEventSchema = z.object({ messageId: z.string(), ts: at, type: z.enum(eventTypes), name: z.string(), stage });
/** `kind` is absent on signals stored before kinds existed. */
const churnSignalSchema = z.object({ messageId: z.string(), ts: at, name: z.string(), kind: signalKindSchema.optional(), detail: z.string().optional() });
const recoverySchema = z.object({ messageId: z.string(), ts: at, name: z.string(), kind: recoveryKindSchema });
const stageTransitionSchema = z.object({ from: stage, to: stage, at, messageId: z.string() });
const itemSchema = z.object({
  name: z.string().optional(),
  category: z.string().optional(),
  viewed: count,
  carted: count,
  purchased: count,
  lastAt: at,
});

export const profileSchema = z.object({
  customerId: z.string().min(1),
  identities: z.object({ userIds: z.array(z.string()), anonymousIds: z.array(z.string()) }),
  /** Latest value of each identify trait; `traitsUpdatedAt` holds the event time each came from. */
  traits: z.record(z.string(), z.unknown()),
  traitsUpdatedAt: z.record(z.string(), at),
  /** Epoch ms; null until the first event. */
  firstSeen: at.nullable(),
  lastSeen: at.nullable(),
  eventCounts: z.record(z.string(), count),
  stageCounts: z.record(stage, count),
  orders: count,
  /** Sum of "Order Completed" revenue; currencies are not converted (see `currency`). */
  revenue: z.number(),
  refundedRevenue: z.number(),
  /** Currency of the latest purchase. */
  currency: z.string().optional(),
  /** The earliest conversion event seen; later events are post-conversion. */
  firstConversion: z.object({ at, messageId: z.string() }).optional(),
  lastPurchaseAt: at.optional(),
  purchases: z.array(purchaseSchema),
  currentStage: stage,
  stageTransitions: z.array(stageTransitionSchema),
  /** Oldest first. */
  recentEvents: z.array(recentEventSchema),
  churnSignals: z.array(churnSignalSchema),
  /** Events that take a churn signal back (re-subscribing, a payment that went through…), oldest first. */
  recoveries: z.array(recoverySchema).default([]),
  /** UTC day "YYYY-MM-DD" → events that day. */
  dailyActivity: z.record(z.string(), count),
  /** UTC day → events of each engagement kind that day (views, carts, searches, support, messages). */
  dailyKinds: z.record(z.string(), z.partialRecord(z.enum(activityKinds), count)).default({}),
  items: z.record(z.string(), itemSchema),
  /** Bumped on every change, for compare-and-set writes. */
  version: count,
});
export type Profile = z.infer<typeof profileSchema>;
type Stamped = { ts: number; messageId: string };

export function emptyProfile(customerId: string): Profile {
  return {
    customerId,
    identities: { userIds: [], anonymousIds: [] },
    traits: {},
    traitsUpdatedAt: {},
    firstSeen: null,
    lastSeen: null,
    eventCounts: {},
    stageCounts: { pre_conversion: 0, conversion: 0, post_conversion: 0, churn_signal: 0 },
    orders: 0,
    revenue: 0,
    refundedRevenue: 0,
    purchases: [],
    currentStage: "pre_conversion",
    stageTransitions: [],
    recentEvents: [],
    churnSignals: [],
    recoveries: [],
    dailyActivity: {},
    dailyKinds: {},
    items: {},
    version: 0,
  };
}

/** The stage `event` has in this customer's history (the provisional `event.stage` ignores history). */
export function stageFor(profile: Profile, event: CleanEvent, rules: StageRules = defaultStageRules): LifecycleStage {
  return lifecycleStage(event.name, hasConvertedBefore(profile, event), rules, event.properties);
}

/**
 * Folds events into a profile; pure, the input is not changed.
 *
 * Order-insensitive: counts, revenue, items, firstSeen/lastSeen (min/max), traits (per-key
 * latest event time), and every bounded list (kept sorted by event time, latest kept).
 * Stages follow event time: an event's stage depends on whether a conversion happened
 * before it in event time, and transitions are recomputed over the last
 * `profileLimits.recentEvents` events on every call.
 *
 * Approximate, because only a window of history is kept: an event that arrives later than
 * the oldest of the recent events still counts, but does not change stage transitions, and
 * a late conversion does not re-stage events older than that window (their stageCounts
 * keep the stage they had when applied).
 *
 * Not idempotent: the caller applies each messageId once.
 */
export function applyEvents(profile: Profile, events: readonly CleanEvent[], rules: StageRules = defaultStageRules): Profile {
  if (events.length === 0) return profile;
  return foldEventsInto(forkForFold(profile, events), events, rules);
}

/**
 * A copy `foldEventsInto(copy, events)` may change without touching `p`: the containers the
 * fold writes to are copied, and of the objects inside them only those these events touch
 * (their items and days, the recent window the fold re-stages). Everything else is shared, so
 * the copy costs the number of entries, not a deep copy of a long history.
 */
function forkForFold(p: Profile, events: readonly CleanEvent[]): Profile {
  const items = { ...p.items };
  const dailyKinds = { ...p.dailyKinds };
  for (const e of events) {
    for (const product of e.products) {
      const item = items[product.id];
      if (item) items[product.id] = { ...item };
    }
    const kinds = dailyKinds[dayKey(e.ts)];
    if (kinds) dailyKinds[dayKey(e.ts)] = { ...kinds };
  }
  return {
    ...p,
    identities: { userIds: [...p.identities.userIds], anonymousIds: [...p.identities.anonymousIds] },
    traits: { ...p.traits },
    traitsUpdatedAt: { ...p.traitsUpdatedAt },
    eventCounts: { ...p.eventCounts },
    stageCounts: { ...p.stageCounts },
    purchases: [...p.purchases],
    stageTransitions: [...p.stageTransitions],
    recentEvents: p.recentEvents.map((r) => ({ ...r })),
    churnSignals: [...p.churnSignals],
    recoveries: [...(p.recoveries ?? [])],
    dailyActivity: { ...p.dailyActivity },
    dailyKinds,
    items,
  };
}

/** The fold itself: changes `p` (a copy applyEvents made for it) and returns it. */
function foldEventsInto(p: Profile, events: readonly CleanEvent[], rules: StageRules = defaultStageRules): Profile {
  if (events.length === 0) return p;
  for (const event of [...events].sort(byTime)) applyOne(p, event, rules);
  restageWindow(p, rules);
  pruneDailyActivity(p);
  capItems(p);
  p.version += 1;
  return p;
}

function applyOne(p: Profile, e: CleanEvent, rules: StageRules): void {
  addIdentity(p.identities.userIds, e.userId);
  addIdentity(p.identities.anonymousIds, e.anonymousId);
  p.firstSeen = p.firstSeen === null ? e.ts : Math.min(p.firstSeen, e.ts);
  p.lastSeen = p.lastSeen === null ? e.ts : Math.max(p.lastSeen, e.ts);
  p.eventCounts[e.name] = (p.eventCounts[e.name] ?? 0) + 1;
  const day = dayKey(e.ts);
  p.dailyActivity[day] = (p.dailyActivity[day] ?? 0) + 1;
  const kind = activityKind(e.type, e.name);
  if (kind) {
    const kinds = ((p.dailyKinds ??= {})[day] ??= {});
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }

  if (rules.conversions.has(e.name) && !hasConvertedBefore(p, e)) p.firstConversion = { at: e.ts, messageId: e.messageId };
  const eventStage = stageFor(p, e, rules);
  p.stageCounts[eventStage] += 1;
  insertByTime(p.recentEvents, { messageId: e.messageId, ts: e.ts, type: e.type, name: e.name, stage: eventStage }, profileLimits.recentEvents);
  if (eventStage === "churn_signal") {
    const kind = classifySignal(e.name, e.properties) ?? "other";
    const detail = signalDetail(e.properties);
    insertByTime(p.churnSignals, { messageId: e.messageId, ts: e.ts, name: e.name, kind, ...(detail ? { detail } : {}) }, profileLimits.churnSignals);
  } else {
    const kind = classifyRecovery(e.name, e.properties);
    if (kind) insertByTime((p.recoveries ??= []), { messageId: e.messageId, ts: e.ts, name: e.name, kind }, profileLimits.recoveries);
  }

  if (e.type === "identify" && e.traits) mergeTraits(p, e.traits, e.ts);
  if (e.name === PURCHASE) addPurchase(p, e);
  if (e.name === REFUND) p.refundedRevenue = money(p.refundedRevenue + (e.revenue ?? 0));
  countItems(p, e);
}

/** Event-time order, ties broken by messageId: the order every bounded list of a profile keeps. */
export const byTime = (a: Stamped, b: Stamped): number => a.ts - b.ts || (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0);

function hasConvertedBefore(p: Profile, e: Stamped): boolean {
  const first = p.firstConversion;
  return first !== undefined && byTime({ ts: first.at, messageId: first.messageId }, e) < 0;
}

function addIdentity(ids: string[], id: string | undefined): void {
  if (id === undefined || ids.includes(id)) return;
  ids.push(id);
  ids.sort();
}

/** Inserts keeping `list` sorted by (ts, messageId) and only its `cap` latest entries. */
function insertByTime<T extends Stamped>(list: T[], item: T, cap: number): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (byTime(list[mid]!, item) <= 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, item);
  if (list.length > cap) list.splice(0, list.length - cap);
}

function mergeTraits(p: Profile, traits: Record<string, unknown>, ts: number): void {
  for (const [key, value] of Object.entries(traits)) {
    const updatedAt = p.traitsUpdatedAt[key];
    if (updatedAt !== undefined && updatedAt > ts) continue;
    p.traits[key] = value;
    p.traitsUpdatedAt[key] = ts;
  }
}

function addPurchase(p: Profile, e: CleanEvent): void {
  const revenue = e.revenue ?? 0;
  p.orders += 1;
  p.revenue = money(p.revenue + revenue);
  if (p.lastPurchaseAt === undefined || e.ts >= p.lastPurchaseAt) {
    p.lastPurchaseAt = e.ts;
    if (e.currency) p.currency = e.currency;
  }
  const purchase = { messageId: e.messageId, ts: e.ts, revenue, ...(e.currency ? { currency: e.currency } : {}), products: e.products };
  insertByTime(p.purchases, purchase, profileLimits.purchases);
}

function countItems(p: Profile, e: CleanEvent): void {
  const counter = itemCounterByEvent[e.name];
  if (!counter) return;
  for (const product of e.products) {
    const item = (p.items[product.id] ??= { viewed: 0, carted: 0, purchased: 0, lastAt: e.ts });
    item[counter] += counter === "viewed" ? 1 : product.quantity;
    if (e.ts >= item.lastAt) {
      item.lastAt = e.ts;
      if (product.name) item.name = product.name;
      if (product.category) item.category = product.category;
    }
  }
}

/**
 * Re-derives the stage of each recent event from the (possibly earlier) first conversion,
 * then the transitions over that window; transitions before the window are kept as they are.
 */
function restageWindow(p: Profile, rules: StageRules): void {
  for (const r of p.recentEvents) {
    // Whether an event is a churn signal was decided from its properties when it was applied; only conversion order changes.
    const now = r.stage === "churn_signal" ? r.stage : conversionStage(r.name, hasConvertedBefore(p, r), rules);
    if (now === r.stage) continue;
    p.stageCounts[r.stage] = Math.max(0, p.stageCounts[r.stage] - 1);
    p.stageCounts[now] += 1;
    r.stage = now;
  }
  const windowStart = p.recentEvents[0]?.ts;
  if (windowStart === undefined) return;
  const transitions = p.stageTransitions.filter((t) => t.at < windowStart);
  let previous: LifecycleStage = transitions.at(-1)?.to ?? "pre_conversion";
  for (const r of p.recentEvents) {
    if (r.stage !== previous) transitions.push({ from: previous, to: r.stage, at: r.ts, messageId: r.messageId });
    previous = r.stage;
  }
  p.stageTransitions = transitions.slice(-profileLimits.stageTransitions);
  p.currentStage = previous;
}

function pruneDailyActivity(p: Profile): void {
  if (p.lastSeen === null) return;
  const oldestKept = dayKey(p.lastSeen - (profileLimits.dailyActivityDays - 1) * DAY_MS);
  for (const day of Object.keys(p.dailyActivity)) if (day < oldestKept) delete p.dailyActivity[day];
  for (const day of Object.keys(p.dailyKinds ?? {})) if (day < oldestKept) delete p.dailyKinds[day];
}

function capItems(p: Profile): void {
  const ids = Object.keys(p.items);
  if (ids.length <= profileLimits.items) return;
  ids.sort((a, b) => p.items[b]!.lastAt - p.items[a]!.lastAt || (a < b ? -1 : 1));
  for (const id of ids.slice(profileLimits.items)) delete p.items[id];
}

/** The UTC day "YYYY-MM-DD" an event time falls on (the key of dailyActivity and dailyKinds). */
export const dayKey = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
// Sums of decimal amounts drift in binary floating point (0.1 + 0.2); 6 places is below any currency's minor unit.
const money = (x: number): number => Math.round(x * 1e6) / 1e6;

/**
 * Identity stitching: the anonymous visitor's history becomes part of the customer's.
 * Counts and revenue add, lists merge by event time under their caps, identities union,
 * traits keep the later value per key. Stage transitions are chained in time order from both
 * histories and recomputed over the merged recent window; before that window the chain is
 * approximate (each side's transitions were computed without the other's events).
 */
export function mergeProfiles(customer: Profile, anonymous: Profile, rules: StageRules = defaultStageRules): Profile {
  const p = structuredClone(customer);
  const other = structuredClone(anonymous);
  for (const id of other.identities.userIds) addIdentity(p.identities.userIds, id);
  for (const id of other.identities.anonymousIds) addIdentity(p.identities.anonymousIds, id);
  for (const [key, ts] of Object.entries(other.traitsUpdatedAt)) mergeTraits(p, { [key]: other.traits[key] }, ts);
  p.firstSeen = minOf(p.firstSeen, other.firstSeen);
  p.lastSeen = other.lastSeen === null ? p.lastSeen : p.lastSeen === null ? other.lastSeen : Math.max(p.lastSeen, other.lastSeen);
  addCounts(p.eventCounts, other.eventCounts);
  addCounts(p.stageCounts, other.stageCounts);
  addCounts(p.dailyActivity, other.dailyActivity);
  for (const [day, kinds] of Object.entries(other.dailyKinds ?? {})) addCounts(((p.dailyKinds ??= {})[day] ??= {}), kinds as Record<string, number>);
  p.orders += other.orders;
  p.revenue = money(p.revenue + other.revenue);
  p.refundedRevenue = money(p.refundedRevenue + other.refundedRevenue);
  mergeLatestPurchase(p, other);
  if (other.firstConversion && (!p.firstConversion || byTime(stamp(other.firstConversion), stamp(p.firstConversion)) < 0))
    p.firstConversion = other.firstConversion;
  p.purchases = mergeByTime(p.purchases, other.purchases, profileLimits.purchases);
  p.recentEvents = mergeByTime(p.recentEvents, other.recentEvents, profileLimits.recentEvents);
  p.churnSignals = mergeByTime(p.churnSignals, other.churnSignals, profileLimits.churnSignals);
  p.recoveries = mergeByTime(p.recoveries ?? [], other.recoveries ?? [], profileLimits.recoveries);
  mergeItems(p, other);
  p.stageTransitions = chainTransitions([...p.stageTransitions, ...other.stageTransitions]);
  restageWindow(p, rules);
  pruneDailyActivity(p);
  capItems(p);
  p.version = Math.max(customer.version, anonymous.version) + 1;
  return p;
}

const stamp = (f: { at: number; messageId: string }): Stamped => ({ ts: f.at, messageId: f.messageId });
const minOf = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));

function addCounts<K extends string>(into: Record<K, number>, from: Record<K, number>): void {
  for (const key of Object.keys(from) as K[]) into[key] = (into[key] ?? 0) + from[key];
}

function mergeLatestPurchase(p: Profile, other: Profile): void {
  if (other.lastPurchaseAt === undefined) return;
  if (p.lastPurchaseAt !== undefined && p.lastPurchaseAt >= other.lastPurchaseAt) return;
  p.lastPurchaseAt = other.lastPurchaseAt;
  if (other.currency) p.currency = other.currency;
}

/** Both lists sorted by time; a messageId present in both is kept once. */
function mergeByTime<T extends Stamped>(a: T[], b: T[], cap: number): T[] {
  const seen = new Set(a.map((x) => x.messageId));
  return [...a, ...b.filter((x) => !seen.has(x.messageId))].sort(byTime).slice(-cap);
}

function mergeItems(p: Profile, other: Profile): void {
  for (const [id, theirs] of Object.entries(other.items)) {
    const ours = p.items[id];
    if (!ours) {
      p.items[id] = theirs;
      continue;
    }
    const [latest, older] = theirs.lastAt > ours.lastAt ? [theirs, ours] : [ours, theirs];
    const name = latest.name ?? older.name;
    const category = latest.category ?? older.category;
    p.items[id] = {
      ...(name ? { name } : {}),
      ...(category ? { category } : {}),
      viewed: ours.viewed + theirs.viewed,
      carted: ours.carted + theirs.carted,
      purchased: ours.purchased + theirs.purchased,
      lastAt: latest.lastAt,
    };
  }
}

/** Transitions from two histories in time order, with each `from` re-linked to the previous `to`. */
function chainTransitions(all: Profile["stageTransitions"]): Profile["stageTransitions"] {
  const sorted = all.map((t) => ({ ...t, ts: t.at })).sort(byTime);
  const chained: Profile["stageTransitions"] = [];
  let previous: LifecycleStage = "pre_conversion";
  for (const { ts: _ts, ...t } of sorted) {
    if (t.to === previous) continue;
    chained.push({ ...t, from: previous });
    previous = t.to;
  }
  return chained;
}

/**
 * The profile as it stood before `ms`, from what the profile keeps: purchases, the recent-event
 * window, signals, stage transitions and items touched before then. Exact for the bounded lists
 * and for orders and revenue (later purchases are the newest, so always kept); event counts
 * lose only later events older than the recent window. `firstSeen` is null when nothing came before.
 */
export function profileBefore(profile: Profile, ms: number): Profile {
  if (profile.lastSeen !== null && profile.lastSeen < ms) return profile;
  const before = <T extends { ts: number }>(list: T[]) => list.filter((x) => x.ts < ms);
  const p = structuredClone(profile);
  const later = p.purchases.filter((x) => x.ts >= ms);
  p.purchases = before(p.purchases);
  p.orders = Math.max(0, p.orders - later.length);
  p.revenue = money(p.revenue - later.reduce((s, x) => s + x.revenue, 0));
  const lastPurchase = p.purchases.at(-1);
  p.lastPurchaseAt = lastPurchase?.ts;
  p.currency = lastPurchase?.currency ?? (lastPurchase ? p.currency : undefined);
  for (const e of p.recentEvents.filter((x) => x.ts >= ms)) {
    p.eventCounts[e.name] = Math.max(0, (p.eventCounts[e.name] ?? 0) - 1);
    p.stageCounts[e.stage] = Math.max(0, p.stageCounts[e.stage] - 1);
  }
  p.recentEvents = before(p.recentEvents);
  p.churnSignals = before(p.churnSignals);
  p.recoveries = before(p.recoveries ?? []);
  p.stageTransitions = p.stageTransitions.filter((t) => t.at < ms);
  p.currentStage = p.recentEvents.at(-1)?.stage ?? p.stageTransitions.at(-1)?.to ?? "pre_conversion";
  if (p.firstConversion && p.firstConversion.at >= ms) delete p.firstConversion;
  const lastDay = dayKey(ms - 1);
  for (const day of Object.keys(p.dailyActivity)) if (day > lastDay) delete p.dailyActivity[day];
  for (const day of Object.keys(p.dailyKinds ?? {})) if (day > lastDay) delete p.dailyKinds[day];
  for (const [id, item] of Object.entries(p.items)) if (item.lastAt >= ms) delete p.items[id];
  for (const [key, at] of Object.entries(p.traitsUpdatedAt))
    if (at >= ms) {
      delete p.traits[key];
      delete p.traitsUpdatedAt[key];
    }
  if (p.firstSeen !== null && p.firstSeen >= ms) p.firstSeen = null;
  const times = [...p.purchases, ...p.recentEvents, ...p.churnSignals, ...p.recoveries].map((x) => x.ts);
  p.lastSeen = p.firstSeen === null ? null : Math.max(p.firstSeen, ...times);
  return p;
}
