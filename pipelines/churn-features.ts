/**
 * Churn features of one customer as of an instant, computed from their own history only
 * (nothing at or after `asOfMs` counts). Pure: the population-level inputs (BG/NBD
 * parameters, the neighbours' outcome rate) are passed in.
 */
import { DAY_MS, expectedPurchases, pAlive, pNoPurchase, repeatSummary, WEEK_MS, type BgnbdParams } from "./bgnbd.ts";

export type ChurnStage = "pre_conversion" | "conversion" | "post_conversion" | "churn_signal";

/**
 * One purchase. `quantity` (units bought) and `products` (product ids, one per order line)
 * are optional: when a source does not carry them the basket features are NaN (unknown).
 */
export type HistoryPurchase = { ts: number; amount: number; messageId: string; quantity?: number; products?: string[] };
export type HistoryEvent = { ts: number; messageId: string; type: string; name: string; stage: ChurnStage };

export type CustomerHistory = {
  customerId: string;
  firstSeenMs: number;
  purchases: HistoryPurchase[];
  events: HistoryEvent[];
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
  "is_in_churn_signal_stage",
  "churn_signals",
  "cancellations",
  "complaints",
  "downgrades",
  "failed_payments",
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
  "refunds",
] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

/** How a marketer reads each feature; `up` is said when it pushes risk up, `down` when it lowers it. */
export const FEATURE_WORDING: Record<FeatureName, { up: string; down: string }> = {
  recency_days: { up: "Has not bought for a long time", down: "Bought recently" },
  frequency: { up: "Has bought only a few times", down: "Buys often (many orders so far)" },
  monetary_avg: { up: "Small average order value", down: "High average order value" },
  monetary_total_log: { up: "Low total spend to date", down: "High total spend to date" },
  tenure_days: { up: "Customer relationship is young (or long-dormant)", down: "Long-standing customer" },
  ipt_mean_days: { up: "Usually waits a long time between orders", down: "Usually reorders quickly" },
  ipt_cv: { up: "Irregular buying rhythm", down: "Regular buying rhythm" },
  overdue_ratio: { up: "Overdue compared with their usual reorder interval", down: "Within their usual reorder interval" },
  purchases_recent_window: { up: "Few orders in the latest period", down: "Several orders in the latest period" },
  engagement_trend: { up: "Buying less than in the period before", down: "Buying more than in the period before" },
  spend_trend: { up: "Spending less than in the period before", down: "Spending more than in the period before" },
  last_amount_ratio: { up: "Last order smaller than usual", down: "Last order larger than usual" },
  days_since_last_activity: { up: "No activity of any kind for a while", down: "Active recently" },
  activity_recent_window: { up: "Little recent activity", down: "Plenty of recent activity" },
  stage_changes: { up: "Lifecycle stage history points to risk", down: "Stable lifecycle history" },
  is_in_churn_signal_stage: { up: "Latest lifecycle stage is a churn signal", down: "Latest lifecycle stage is healthy" },
  churn_signals: { up: "Has sent churn signals", down: "No churn signals" },
  cancellations: { up: "Has cancelled", down: "No cancellations" },
  complaints: { up: "Has complained", down: "No complaints" },
  downgrades: { up: "Has downgraded", down: "No downgrades" },
  failed_payments: { up: "Has had failed payments", down: "No failed payments" },
  bgnbd_p_alive: { up: "Purchase pattern suggests they may have lapsed", down: "Purchase pattern suggests they are still active" },
  bgnbd_expected_purchases: { up: "Few purchases expected in the coming period", down: "More purchases expected in the coming period" },
  bgnbd_p_no_purchase: { up: "Likely to make no purchase in the coming period", down: "Likely to buy again in the coming period" },
  neighbour_churn_rate: { up: "Similar customers at this stage often lapsed", down: "Similar customers at this stage usually stayed" },
  recency_tenure_ratio: { up: "Silent for a large part of their time as a customer", down: "Still buying late in their time as a customer" },
  last_gap_days: { up: "Long wait before their last order", down: "Short wait before their last order" },
  last_gap_ratio: { up: "Reorder interval is getting longer", down: "Reorder interval is getting shorter" },
  active_months: { up: "Bought in few distinct months", down: "Bought in many distinct months" },
  purchases_last_horizon: { up: "Few orders over the last period", down: "Several orders over the last period" },
  orders_per_month: { up: "Orders rarely", down: "Orders often" },
  bgnbd_expected_half_horizon: { up: "Unlikely to buy soon", down: "Likely to buy soon" },
  bgnbd_expected_double_horizon: { up: "Few purchases expected in the longer run", down: "More purchases expected in the longer run" },
  items_per_order: { up: "Small baskets", down: "Large baskets" },
  spend_per_item: { up: "Buys at price levels associated with lapsing", down: "Buys at price levels associated with staying" },
  distinct_products: { up: "Has bought a narrow range of products", down: "Has bought a wide range of products" },
  products_per_order: { up: "Few different products per order", down: "Many different products per order" },
  repeat_product_share: { up: "Rarely reorders the same products", down: "Reorders the same products" },
  refunds: { up: "Has returned or cancelled orders", down: "No returns or cancelled orders" },
};

/** Non-signal events recording a return or a cancelled order (counted by `refunds`). */
const REFUND_EVENT = /refund|return|order cancel/i;

const CHURN_SIGNAL_KINDS = {
  cancellations: /cancel/i,
  complaints: /complain|complaint|support ticket|negative feedback|refund request/i,
  downgrades: /downgrad/i,
  failed_payments: /payment.*fail|fail.*payment|declin/i,
} as const;

/** Window (days) of the recent-vs-earlier engagement comparison, tied to the horizon. */
const trendWindowDays = (horizonDays: number) => Math.max(30, Math.round(horizonDays / 2));

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
  const signals = events.filter((e) => e.stage === "churn_signal");
  const signalsOf = (kind: keyof typeof CHURN_SIGNAL_KINDS) => signals.filter((e) => CHURN_SIGNAL_KINDS[kind].test(e.name));

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
  const refundEvents = events.filter((e) => e.stage !== "churn_signal" && REFUND_EVENT.test(e.name));
  const inLastHorizon = purchases.filter((p) => p.ts >= asOfMs - horizonMs);

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
    is_in_churn_signal_stage: lastEvent?.stage === "churn_signal" ? 1 : 0,
    churn_signals: signals.length,
    cancellations: signalsOf("cancellations").length,
    complaints: signalsOf("complaints").length,
    downgrades: signalsOf("downgrades").length,
    failed_payments: signalsOf("failed_payments").length,
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
    refunds: refundEvents.length,
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
    is_in_churn_signal_stage: lastEvent ? [citeEvent(lastEvent)] : [],
    churn_signals: signals.slice(-5).map(citeEvent),
    cancellations: signalsOf("cancellations").slice(-3).map(citeEvent),
    complaints: signalsOf("complaints").slice(-3).map(citeEvent),
    downgrades: signalsOf("downgrades").slice(-3).map(citeEvent),
    failed_payments: signalsOf("failed_payments").slice(-3).map(citeEvent),
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
    refunds: refundEvents.slice(-3).map(citeEvent),
  };
  return { values, evidence };
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
