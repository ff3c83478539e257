/**
 * Churn features of one customer as of an instant, computed from their own history only
 * (nothing at or after `asOfMs` counts). Pure: the population-level inputs (BG/NBD
 * parameters, the neighbours' outcome rate) are passed in.
 */
import { DAY_MS, expectedPurchases, pAlive, pNoPurchase, repeatSummary, WEEK_MS, type BgnbdParams } from "./bgnbd.ts";
import { activityKind, type ActivityKind } from "./activity-kinds.ts";
import type { RecoveryKind, SignalKind } from "./explicit-signals.ts";

export type ChurnStage = "pre_conversion" | "conversion" | "post_conversion" | "churn_signal";

/**
 * One purchase. `quantity` (units bought) and `products` (product ids, one per order line)
 * are optional: when a source does not carry them the basket features are NaN (unknown).
 */
export type HistoryPurchase = { ts: number; amount: number; messageId: string; quantity?: number; products?: string[] };
/**
 * One event. Churn-signal events carry their `signal` kind (and what the customer said, `detail`);
 * events that take a signal back carry their `recovery` kind.
 */
export type HistoryEvent = {
  ts: number;
  messageId: string;
  type: string;
  name: string;
  stage: ChurnStage;
  signal?: SignalKind;
  recovery?: RecoveryKind;
  detail?: string;
};

/** Events per UTC day (epoch day number): all of them, and by engagement kind. */
export type ActivityDay = { day: number; any: number } & Partial<Record<ActivityKind, number>>;

export type CustomerHistory = {
  customerId: string;
  firstSeenMs: number;
  purchases: HistoryPurchase[];
  events: HistoryEvent[];
  /** Day by day, oldest first; absent when the source keeps no engagement (the engagement features are then unknown). */
  activity?: ActivityDay[];
};

/** A customer event cited as evidence; `type` is the event's type, `name` its event name. */
export type Evidence = { messageId: string; ts: number; type: string; name: string };

export type ChurnPopulation = {
  bgnbd: BgnbdParams;
  /** Days of the churn horizon H; BG/NBD's forward-looking features are taken over it. */
  horizonDays: number;
  /** Share of the customer's nearest neighbours (comparable lifecycle point) who churned. */
  neighbourOutcomeRate?: number;
  /** Used for the neighbour feature when no neighbour rate is supplied. */
  baseChurnRate?: number;
};

export type ChurnFeatures = { values: Record<FeatureName, number>; evidence: Record<FeatureName, Evidence[]> };

/** Stable feature names, in model order. */
export const FEATURE_NAMES = [
  "recency_days",
  "frequency",
  "monetary_avg",
  "monetary_total_log",
  "tenure_days",
  "ipt_mean_days",
  "ipt_cv",
  "overdue_ratio",
  "purchases_recent_window",
  "engagement_trend",
  "spend_trend",
  "last_amount_ratio",
  "days_since_last_activity",
  "activity_recent_window",
  "stage_changes",
  "bgnbd_p_alive",
  "bgnbd_expected_purchases",
  "bgnbd_p_no_purchase",
  "neighbour_churn_rate",
  "recency_tenure_ratio",
  "last_gap_days",
  "last_gap_ratio",
  "active_months",
  "purchases_last_horizon",
  "orders_per_month",
  "bgnbd_expected_half_horizon",
  "bgnbd_expected_double_horizon",
  "items_per_order",
  "spend_per_item",
  "distinct_products",
  "products_per_order",
  "repeat_product_share",
  "days_since_first_purchase",
  "active_days_recent_window",
  "views_recent_window",
  "views_trend",
  "days_since_last_view",
  "carts_recent_window",
  "carts_without_order",
  "searches_recent_window",
  "support_recent_window",
  "messages_recent_window",
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

/**
 * How each feature may move the churn risk: +1 only up as the value grows, −1 only down, 0 either
 * way. The learned model is constrained to these directions (so an explanation never says "more
 * orders, hence riskier"); 0 is left to the data where the direction differs between businesses.
 */
export const FEATURE_DIRECTION: Record<FeatureName, 1 | -1 | 0> = {
  recency_days: 1,
  frequency: -1,
  monetary_avg: 0,
  monetary_total_log: -1,
  tenure_days: 0,
  ipt_mean_days: 0,
  ipt_cv: 0,
  overdue_ratio: 1,
  purchases_recent_window: -1,
  engagement_trend: -1,
  spend_trend: -1,
  last_amount_ratio: 0,
  days_since_last_activity: 1,
  activity_recent_window: -1,
  stage_changes: 0,
  bgnbd_p_alive: -1,
  bgnbd_expected_purchases: -1,
  bgnbd_p_no_purchase: 1,
  neighbour_churn_rate: 1,
  recency_tenure_ratio: 1,
  last_gap_days: 0,
  last_gap_ratio: 0,
  active_months: -1,
  purchases_last_horizon: -1,
  orders_per_month: -1,
  bgnbd_expected_half_horizon: -1,
  bgnbd_expected_double_horizon: -1,
  items_per_order: 0,
  spend_per_item: 0,
  distinct_products: 0,
  products_per_order: 0,
  repeat_product_share: 0,
  days_since_first_purchase: 0,
  active_days_recent_window: -1,
  views_recent_window: -1,
  views_trend: -1,
  days_since_last_view: 1,
  carts_recent_window: 0,
  carts_without_order: 0,
  searches_recent_window: 0,
  support_recent_window: 0,
  messages_recent_window: -1,
};

/** Window (days) of the recent-vs-earlier engagement comparison, tied to the horizon. */
export const trendWindowDays = (horizonDays: number) => Math.max(30, Math.round(horizonDays / 2));

export function churnFeatures(history: CustomerHistory, asOfMs: number, population: ChurnPopulation): ChurnFeatures {
  const purchases = history.purchases.filter((p) => p.ts < asOfMs).sort((p, q) => p.ts - q.ts);
  const events = history.events.filter((e) => e.ts < asOfMs).sort((p, q) => p.ts - q.ts);
  const eventById = new Map(events.map((e) => [e.messageId, e]));
  const cite = (p: HistoryPurchase): Evidence => {
    const e = eventById.get(p.messageId);
    return { messageId: p.messageId, ts: p.ts, type: e?.type ?? "track", name: e?.name ?? "Order Completed" };
  };
  const citeEvent = (e: HistoryEvent): Evidence => ({ messageId: e.messageId, ts: e.ts, type: e.type, name: e.name });
  const days = (ms: number) => ms / DAY_MS;

  const firstSeenMs = Math.min(history.firstSeenMs, purchases[0]?.ts ?? Infinity, events[0]?.ts ?? Infinity);
  const tenureDays = days(asOfMs - firstSeenMs);
  const last = purchases.at(-1);
  const recencyDays = last ? days(asOfMs - last.ts) : tenureDays;
  const summary = repeatSummary(
    purchases.map((p) => p.ts),
    asOfMs,
  );
  const frequency = summary ? summary.x + 1 : 0;
  const totalSpend = purchases.reduce((s, p) => s + p.amount, 0);
  const avgSpend = purchases.length ? totalSpend / purchases.length : 0;

  const gapsDays = distinctDayGaps(purchases.map((p) => p.ts));
  const iptMean = gapsDays.length ? gapsDays.reduce((s, g) => s + g, 0) / gapsDays.length : tenureDays;
  const iptSd = gapsDays.length > 1 ? Math.sqrt(gapsDays.reduce((s, g) => s + (g - iptMean) ** 2, 0) / gapsDays.length) : 0;

  const windowMs = trendWindowDays(population.horizonDays) * DAY_MS;
  const recent = purchases.filter((p) => p.ts >= asOfMs - windowMs);
  const earlier = purchases.filter((p) => p.ts >= asOfMs - 2 * windowMs && p.ts < asOfMs - windowMs);
  const sum = (ps: HistoryPurchase[]) => ps.reduce((s, p) => s + p.amount, 0);
  const trend = (a: number, b: number) => (a - b) / (a + b + 1);

  const lastEvent = events.at(-1);
  const lastActivityMs = Math.max(lastEvent?.ts ?? -Infinity, last?.ts ?? -Infinity, firstSeenMs);
  const recentEvents = events.filter((e) => e.ts >= asOfMs - windowMs);
  const stageEvents = events.filter((e, i) => i === 0 || e.stage !== events[i - 1]!.stage);

  const horizonWeeks = (population.horizonDays * DAY_MS) / WEEK_MS;
  const bg = summary ?? { x: 0, tx: 0, T: 0 };
  const byAmount = [...purchases].sort((p, q) => q.amount - p.amount);
  const lastFew = (ps: HistoryPurchase[], n = 3) => ps.slice(-n).map(cite);

  const horizonMs = population.horizonDays * DAY_MS;
  const lastGap = gapsDays.at(-1);
  const months = new Set(purchases.map((p) => { const d = new Date(p.ts); return d.getUTCFullYear() * 12 + d.getUTCMonth(); }));
  const withQuantity = purchases.filter((p) => p.quantity !== undefined);
  const units = withQuantity.reduce((s, p) => s + p.quantity!, 0);
  const withProducts = purchases.filter((p) => p.products !== undefined);
  const seenProducts = new Set<string>();
  let productLines = 0;
  let repeatLines = 0;
  for (const p of withProducts) {
    const basket = new Set(p.products);
    for (const code of basket) {
      productLines++;
      if (seenProducts.has(code)) repeatLines++;
    }
    for (const code of basket) seenProducts.add(code);
  }
  const inLastHorizon = purchases.filter((p) => p.ts >= asOfMs - horizonMs);
  const engagement = engagementValues(history, asOfMs, trendWindowDays(population.horizonDays), tenureDays, recent.length);
  const ofKind = (kind: ActivityKind) => events.filter((e) => activityKind(e.type, e.name) === kind).slice(-3).map(citeEvent);

  const values: Record<FeatureName, number> = {
    recency_days: recencyDays,
    frequency,
    monetary_avg: avgSpend,
    monetary_total_log: Math.log1p(Math.max(0, totalSpend)),
    tenure_days: tenureDays,
    ipt_mean_days: iptMean,
    ipt_cv: iptMean > 0 ? iptSd / iptMean : 0,
    overdue_ratio: recencyDays / Math.max(iptMean, 1),
    purchases_recent_window: recent.length,
    engagement_trend: trend(recent.length, earlier.length),
    spend_trend: trend(sum(recent), sum(earlier)) ,
    last_amount_ratio: last && avgSpend > 0 ? last.amount / avgSpend : 1,
    days_since_last_activity: days(asOfMs - lastActivityMs),
    activity_recent_window: recentEvents.length,
    stage_changes: Math.max(0, stageEvents.length - 1),
    bgnbd_p_alive: summary ? pAlive(population.bgnbd, bg.x, bg.tx, bg.T) : 0,
    bgnbd_expected_purchases: summary ? expectedPurchases(population.bgnbd, horizonWeeks, bg.x, bg.tx, bg.T) : 0,
    bgnbd_p_no_purchase: summary ? pNoPurchase(population.bgnbd, horizonWeeks, bg.x, bg.tx, bg.T) : 1,
    neighbour_churn_rate: population.neighbourOutcomeRate ?? population.baseChurnRate ?? 0.5,
    recency_tenure_ratio: tenureDays > 0 ? recencyDays / tenureDays : 1,
    last_gap_days: lastGap ?? Number.NaN,
    last_gap_ratio: lastGap !== undefined && iptMean > 0 ? lastGap / iptMean : Number.NaN,
    active_months: months.size,
    purchases_last_horizon: inLastHorizon.length,
    orders_per_month: purchases.length / Math.max(1, tenureDays / 30.44),
    bgnbd_expected_half_horizon: summary ? expectedPurchases(population.bgnbd, horizonWeeks / 2, bg.x, bg.tx, bg.T) : 0,
    bgnbd_expected_double_horizon: summary ? expectedPurchases(population.bgnbd, horizonWeeks * 2, bg.x, bg.tx, bg.T) : 0,
    items_per_order: withQuantity.length ? units / withQuantity.length : Number.NaN,
    spend_per_item: units > 0 ? withQuantity.reduce((s, p) => s + p.amount, 0) / units : Number.NaN,
    distinct_products: withProducts.length ? seenProducts.size : Number.NaN,
    products_per_order: withProducts.length ? productLines / withProducts.length : Number.NaN,
    repeat_product_share: productLines > 0 ? repeatLines / productLines : Number.NaN,
    days_since_first_purchase: purchases[0] ? days(asOfMs - purchases[0].ts) : 0,
    ...engagement,
  };

  const purchaseCites = last ? [cite(last)] : [];
  const evidence: Record<FeatureName, Evidence[]> = {
    recency_days: purchaseCites,
    frequency: lastFew(purchases, 5),
    monetary_avg: byAmount.slice(0, 3).map(cite),
    monetary_total_log: byAmount.slice(0, 3).map(cite),
    tenure_days: purchases[0] ? [cite(purchases[0])] : events[0] ? [citeEvent(events[0])] : [],
    ipt_mean_days: lastFew(purchases),
    ipt_cv: lastFew(purchases),
    overdue_ratio: lastFew(purchases, 2),
    purchases_recent_window: recent.length ? lastFew(recent) : purchaseCites,
    engagement_trend: [...lastFew(earlier, 2), ...lastFew(recent, 2)],
    spend_trend: [...lastFew(earlier, 2), ...lastFew(recent, 2)],
    last_amount_ratio: purchaseCites,
    days_since_last_activity: lastEvent ? [citeEvent(lastEvent)] : purchaseCites,
    activity_recent_window: recentEvents.slice(-3).map(citeEvent),
    stage_changes: stageEvents.slice(-3).map(citeEvent),
    bgnbd_p_alive: lastFew(purchases, 2),
    bgnbd_expected_purchases: lastFew(purchases, 2),
    bgnbd_p_no_purchase: lastFew(purchases, 2),
    neighbour_churn_rate: purchaseCites,
    recency_tenure_ratio: [...(purchases[0] ? [cite(purchases[0])] : []), ...(purchases.length > 1 ? purchaseCites : [])],
    last_gap_days: lastFew(purchases, 2),
    last_gap_ratio: lastFew(purchases, 3),
    active_months: lastFew(purchases, 5),
    purchases_last_horizon: inLastHorizon.length ? lastFew(inLastHorizon) : purchaseCites,
    orders_per_month: lastFew(purchases, 5),
    bgnbd_expected_half_horizon: lastFew(purchases, 2),
    bgnbd_expected_double_horizon: lastFew(purchases, 2),
    items_per_order: lastFew(withQuantity),
    spend_per_item: lastFew(withQuantity),
    distinct_products: lastFew(withProducts),
    products_per_order: lastFew(withProducts),
    repeat_product_share: lastFew(withProducts),
    days_since_first_purchase: purchases[0] ? [cite(purchases[0])] : [],
    active_days_recent_window: recentEvents.slice(-3).map(citeEvent),
    views_recent_window: ofKind("views"),
    views_trend: ofKind("views"),
    days_since_last_view: ofKind("views").slice(-1),
    carts_recent_window: ofKind("carts"),
    carts_without_order: ofKind("carts"),
    searches_recent_window: ofKind("searches"),
    support_recent_window: ofKind("support"),
    messages_recent_window: ofKind("messages"),
  };
  return { values, evidence };
}

type EngagementFeature =
  | "active_days_recent_window"
  | "views_recent_window"
  | "views_trend"
  | "days_since_last_view"
  | "carts_recent_window"
  | "carts_without_order"
  | "searches_recent_window"
  | "support_recent_window"
  | "messages_recent_window";

/**
 * Engagement beyond purchases, from whole days before the as-of day (a day's counts cannot be
 * split at an instant): NaN for every feature when the history keeps no day-by-day activity.
 */
function engagementValues(history: CustomerHistory, asOfMs: number, windowDays: number, tenureDays: number, ordersInWindow: number): Record<EngagementFeature, number> {
  const keys: EngagementFeature[] = ["active_days_recent_window", "views_recent_window", "views_trend", "days_since_last_view", "carts_recent_window", "carts_without_order", "searches_recent_window", "support_recent_window", "messages_recent_window"];
  if (!history.activity) return Object.fromEntries(keys.map((k) => [k, Number.NaN])) as Record<EngagementFeature, number>;
  const today = Math.floor(asOfMs / DAY_MS);
  const days = history.activity.filter((a) => a.day < today);
  const within = (from: number, to: number) => days.filter((a) => a.day >= today - to && a.day < today - from);
  const recent = within(0, windowDays);
  const earlier = within(windowDays, 2 * windowDays);
  const sum = (list: ActivityDay[], kind: ActivityKind) => list.reduce((s, a) => s + (a[kind] ?? 0), 0);
  const lastView = days.filter((a) => (a.views ?? 0) > 0).at(-1);
  const carts = sum(recent, "carts");
  const viewsNow = sum(recent, "views");
  const viewsBefore = sum(earlier, "views");
  return {
    active_days_recent_window: recent.filter((a) => a.any > 0).length,
    views_recent_window: viewsNow,
    views_trend: (viewsNow - viewsBefore) / (viewsNow + viewsBefore + 1),
    days_since_last_view: lastView ? today - lastView.day : tenureDays,
    carts_recent_window: carts,
    carts_without_order: ordersInWindow === 0 ? carts : 0,
    searches_recent_window: sum(recent, "searches"),
    support_recent_window: sum(recent, "support"),
    messages_recent_window: sum(recent, "messages"),
  };
}

/** Gaps in days between successive distinct purchase days. */
function distinctDayGaps(timesMs: number[]): number[] {
  const purchaseDays = [...new Set(timesMs.map((t) => Math.floor(t / DAY_MS)))].sort((a, b) => a - b);
  return purchaseDays.slice(1).map((d, i) => d - purchaseDays[i]!);
}

/**
 * The vector used to find a customer's neighbours "at a comparable point in their
 * lifecycle": log recency, log frequency, log average spend and log tenure.
 */
export function neighbourVector(values: Record<FeatureName, number>): number[] {
  return [
    Math.log1p(values.recency_days),
    Math.log1p(values.frequency),
    Math.log1p(Math.max(0, values.monetary_avg)),
    Math.log1p(values.tenure_days),
  ];
}
