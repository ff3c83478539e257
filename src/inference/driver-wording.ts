/**
 * Driver sentences made from the numbers they state: the customer's value of a feature and the
 * reference it is compared with ("1 order in 11 days as a customer; customers who stay have 3
 * by then"). A sentence states facts only; whether it raises or lowers the risk is said by the
 * list it is in and the sign of its contribution. Pure.
 */
import { type FeatureName } from "../../pipelines/churn-features";
import type { SignalKind } from "../../pipelines/explicit-signals";
import type { ActiveSignal } from "./signal-effects";

export type WordingContext = {
  horizonDays: number;
  /** days of the recent-vs-earlier comparison window */
  windowDays: number;
  currency?: string;
  /** who the reference is, e.g. "customers who stay" */
  referenceLabel: string;
  /** every feature value of the customer (some sentences use two) */
  values: Record<FeatureName, number>;
};

const round = (v: number, digits = 0) => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};
const plural = (n: number, word: string, digits = 0) => `${round(n, digits)} ${word}${round(n, digits) === 1 ? "" : /(s|sh|ch|x)$/.test(word) ? "es" : "s"}`;
const days = (v: number) => plural(v, "day");
const pct = (v: number) => `${round(v * 100)}%`;
const times = (v: number) => `${round(v, 1)}×`;
const num = (v: number) => String(round(v, 1));
const signed = (v: number) => `${v >= 0 ? "+" : "−"}${Math.abs(round(v, 2)).toFixed(2)}`;

/** For each feature: the customer's fact, and the reference's value in the same words. */
const FACTS: Record<FeatureName, (v: number, r: number, c: WordingContext) => [fact: string, reference: string]> = {
  recency_days: (v, r, c) => [`Last order ${days(v)} ago`, `${c.referenceLabel}: ${days(r)}`],
  frequency: (v, r, c) => [
    `${plural(v, "order")} in ${days(c.values.tenure_days)} as a customer`,
    `${c.referenceLabel} have ${round(r)} by then`,
  ],
  monetary_avg: (v, r, c) => [`Average order ${money(v, c)}`, `${c.referenceLabel}: ${money(r, c)}`],
  monetary_total_log: (v, r, c) => [`${money(Math.expm1(v), c)} spent in total`, `${c.referenceLabel}: ${money(Math.expm1(r), c)}`],
  tenure_days: (v, r, c) => [`Customer for ${days(v)}`, `${c.referenceLabel}: ${days(r)}`],
  days_since_first_purchase: (v, r, c) => [`First order ${days(v)} ago`, `${c.referenceLabel}: ${days(r)}`],
  ipt_mean_days: (v, r, c) => [`Usually ${days(v)} between orders`, `${c.referenceLabel}: ${days(r)}`],
  ipt_cv: (v, r, c) => [`Gaps between orders vary by ${pct(v)} of their mean`, `${c.referenceLabel}: ${pct(r)}`],
  overdue_ratio: (v, r, c) => [
    `Last order ${days(c.values.recency_days)} ago, ${times(v)} their usual gap of ${days(c.values.ipt_mean_days)}`,
    `${c.referenceLabel}: ${times(r)}`,
  ],
  purchases_recent_window: (v, r, c) => [`${plural(v, "order")} in the last ${days(c.windowDays)}`, `${c.referenceLabel}: ${num(r)}`],
  engagement_trend: (v, r, c) => [`Order trend ${signed(v)} (last ${days(c.windowDays)} against the ${days(c.windowDays)} before; −1 to +1)`, `${c.referenceLabel}: ${signed(r)}`],
  spend_trend: (v, r, c) => [`Spend trend ${signed(v)} (last ${days(c.windowDays)} against the ${days(c.windowDays)} before; −1 to +1)`, `${c.referenceLabel}: ${signed(r)}`],
  last_amount_ratio: (v, r, c) => [`Last order was ${times(v)} their average order`, `${c.referenceLabel}: ${times(r)}`],
  days_since_last_activity: (v, r, c) => [`Last activity of any kind ${days(v)} ago`, `${c.referenceLabel}: ${days(r)}`],
  activity_recent_window: (v, r, c) => [`${plural(v, "event")} in the last ${days(c.windowDays)}`, `${c.referenceLabel}: ${num(r)}`],
  stage_changes: (v, r, c) => [`${plural(v, "lifecycle stage change")}`, `${c.referenceLabel}: ${num(r)}`],
  bgnbd_p_alive: (v, r, c) => [`Buying pattern: ${pct(v)} likely still an active buyer`, `${c.referenceLabel}: ${pct(r)}`],
  bgnbd_expected_purchases: (v, r, c) => [`${num(v)} orders expected in the next ${days(c.horizonDays)}`, `${c.referenceLabel}: ${num(r)}`],
  bgnbd_p_no_purchase: (v, r, c) => [`Buying pattern: ${pct(v)} chance of no order in the next ${days(c.horizonDays)}`, `${c.referenceLabel}: ${pct(r)}`],
  neighbour_churn_rate: (v, r, c) => [`${pct(v)} of the customers most like them lapsed`, `${c.referenceLabel}: ${pct(r)}`],
  recency_tenure_ratio: (v, r, c) => [`Silent for ${pct(v)} of their time as a customer`, `${c.referenceLabel}: ${pct(r)}`],
  last_gap_days: (v, r, c) => [`Waited ${days(v)} before their last order`, `${c.referenceLabel}: ${days(r)}`],
  last_gap_ratio: (v, r, c) => [`Their last gap between orders was ${times(v)} their usual`, `${c.referenceLabel}: ${times(r)}`],
  active_months: (v, r, c) => [`Bought in ${plural(v, "different month")}`, `${c.referenceLabel}: ${num(r)}`],
  purchases_last_horizon: (v, r, c) => [`${plural(v, "order")} in the last ${days(c.horizonDays)}`, `${c.referenceLabel}: ${num(r)}`],
  orders_per_month: (v, r, c) => [`${num(v)} orders a month`, `${c.referenceLabel}: ${num(r)}`],
  bgnbd_expected_half_horizon: (v, r, c) => [`${num(v)} orders expected in the next ${days(c.horizonDays / 2)}`, `${c.referenceLabel}: ${num(r)}`],
  bgnbd_expected_double_horizon: (v, r, c) => [`${num(v)} orders expected in the next ${days(c.horizonDays * 2)}`, `${c.referenceLabel}: ${num(r)}`],
  items_per_order: (v, r, c) => [`${num(v)} items per order`, `${c.referenceLabel}: ${num(r)}`],
  spend_per_item: (v, r, c) => [`${money(v, c)} per item`, `${c.referenceLabel}: ${money(r, c)}`],
  distinct_products: (v, r, c) => [`${plural(v, "different product")} bought`, `${c.referenceLabel}: ${num(r)}`],
  products_per_order: (v, r, c) => [`${num(v)} different products per order`, `${c.referenceLabel}: ${num(r)}`],
  active_days_recent_window: (v, r, c) => [`Active on ${plural(v, "day")} of the last ${days(c.windowDays)}`, `${c.referenceLabel}: ${num(r)}`],
  views_recent_window: (v, r, c) => [`${plural(v, "view")} in the last ${days(c.windowDays)}`, `${c.referenceLabel}: ${num(r)}`],
  views_trend: (v, r, c) => [`View trend ${signed(v)} (last ${days(c.windowDays)} against the ${days(c.windowDays)} before; −1 to +1)`, `${c.referenceLabel}: ${signed(r)}`],
  days_since_last_view: (v, r, c) => [`Last looked at the catalogue ${days(v)} ago`, `${c.referenceLabel}: ${days(r)}`],
  carts_recent_window: (v, r, c) => [`${plural(v, "cart or wishlist addition")} in the last ${days(c.windowDays)}`, `${c.referenceLabel}: ${num(r)}`],
  carts_without_order: (v, r, c) => [`${plural(v, "cart addition")} without an order in the last ${days(c.windowDays)}`, `${c.referenceLabel}: ${num(r)}`],
  searches_recent_window: (v, r, c) => [`${plural(v, "search")} in the last ${days(c.windowDays)}`, `${c.referenceLabel}: ${num(r)}`],
  support_recent_window: (v, r, c) => [`${plural(v, "support contact")} in the last ${days(c.windowDays)}`, `${c.referenceLabel}: ${num(r)}`],
  messages_recent_window: (v, r, c) => [`${plural(v, "message")} opened or clicked in the last ${days(c.windowDays)}`, `${c.referenceLabel}: ${num(r)}`],
  repeat_product_share: (v, r, c) => [`${pct(v)} of their order lines were products bought before`, `${c.referenceLabel}: ${pct(r)}`],
};

function money(v: number, c: WordingContext): string {
  const amount = round(v, 2).toFixed(2);
  return c.currency ? `${amount} ${c.currency}` : amount;
}

/** "Last order 45 days ago; customers who stay: 12 days". */
export function behaviourReason(feature: FeatureName, value: number, reference: number, context: WordingContext): string {
  const [fact, ref] = FACTS[feature](value, reference, context);
  return `${fact}; ${ref}`;
}

const SIGNAL_WORDS: Record<SignalKind, [one: string, many: string]> = {
  cancellation: ["Cancelled", "cancellations"],
  downgrade: ["Downgraded", "downgrades"],
  complaint: ["Complained", "complaints"],
  failed_payment: ["A payment failed", "failed payments"],
  refund: ["Had an order refunded or cancelled", "refunds or cancelled orders"],
  negative_feedback: ["Gave negative feedback", "pieces of negative feedback"],
  unsubscribe: ["Unsubscribed from messages", "unsubscribes"],
  other: ["Sent a churn signal", "churn signals"],
};

/** "Cancelled (Subscription Cancelled, 3 days ago; reason: too expensive); resubscribed since (Subscription Started, 1 day ago)". */
export function signalReason(s: ActiveSignal, asOfMs: number, isCancelledNow: boolean): string {
  const ago = (ts: number) => days(Math.max(0, (asOfMs - ts) / 86_400_000));
  const [one, many] = SIGNAL_WORDS[s.kind];
  const head = s.count === 1 ? one : `${s.count} ${many}, the latest`;
  const detail = s.latest.detail ? `; ${s.latest.detail}` : "";
  const latest = `${head} (${s.latest.name}, ${ago(s.latest.ts)} ago${detail})`;
  const state = isCancelledNow ? "; it is their latest subscription event" : "";
  const since = s.resolvedBy ? `; taken back since by ${s.resolvedBy.name}, ${ago(s.resolvedBy.ts)} ago` : "";
  return `${latest}${state}${since}`;
}
