/**
 * What the behavioural predictions read from one customer's history as of an instant:
 * purchases by distinct UTC day (orders on the same day count once, their amounts summed;
 * the unit BG/NBD is fitted in), and the inputs of the learned corrections. Nothing at or
 * after `asOfMs` counts. Pure.
 */
import { DAY_MS, repeatSummary, WEEK_MS, type RepeatSummary } from "./bgnbd.ts";
import type { CustomerHistory } from "./churn-features.ts";
import type { SpendSummary } from "./gamma-gamma.ts";
import { purchaseDayGaps } from "./purchase-rhythm.ts";

export type CustomerState = {
  asOfMs: number;
  firstSeenMs: number;
  /** Distinct purchase days (UTC day numbers), oldest first, and each day's spend. */
  days: number[];
  daySpend: number[];
  /** BG/NBD's (x, tx, T) in weeks; null before the first purchase. */
  repeat: RepeatSummary | null;
  /** Gamma-Gamma's input: repeat days and their mean spend (the first day left out). */
  spend: SpendSummary;
  gaps: number[];
  /** Purchase days and spend in the period of the horizon's length just before asOf, and the one before that. */
  lastPeriod: { purchases: number; spend: number };
  previousPeriod: { purchases: number; spend: number };
};

export function customerState(history: CustomerHistory, asOfMs: number, horizonDays: number): CustomerState {
  const byDay = new Map<number, number>();
  for (const p of history.purchases) {
    if (p.ts >= asOfMs) continue;
    const day = Math.floor(p.ts / DAY_MS);
    byDay.set(day, (byDay.get(day) ?? 0) + p.amount);
  }
  const days = [...byDay.keys()].sort((a, b) => a - b);
  const daySpend = days.map((d) => byDay.get(d)!);
  const repeatSpend = daySpend.slice(1);
  const repeatTotal = repeatSpend.reduce((s, v) => s + v, 0);
  const asOfDay = asOfMs / DAY_MS;
  const period = (fromDaysBack: number, toDaysBack: number) => {
    let purchases = 0;
    let spend = 0;
    days.forEach((d, i) => {
      const back = asOfDay - d;
      if (back > toDaysBack && back <= fromDaysBack) {
        purchases++;
        spend += daySpend[i]!;
      }
    });
    return { purchases, spend };
  };
  return {
    asOfMs,
    firstSeenMs: Math.min(history.firstSeenMs, days.length ? days[0]! * DAY_MS : Infinity),
    days,
    daySpend,
    repeat: repeatSummary(history.purchases.map((p) => p.ts), asOfMs),
    spend: { x: repeatSpend.length, mean: repeatSpend.length ? repeatTotal / repeatSpend.length : 0 },
    gaps: purchaseDayGaps(days),
    lastPeriod: period(horizonDays, 0),
    previousPeriod: period(2 * horizonDays, horizonDays),
  };
}

/** Days from the last purchase day to the day of asOf (0 when bought today). */
export const daysSinceLastPurchase = (s: CustomerState): number =>
  s.days.length ? Math.floor((s.asOfMs - 1) / DAY_MS) - s.days.at(-1)! : Math.floor((s.asOfMs - s.firstSeenMs) / DAY_MS);

/** The inputs a learned correction may use, by name. */
export const CORRECTION_FEATURES = [
  "log_model_expectation",
  "log_last_period",
  "log_previous_period",
  "p_alive",
  "log_recency_days",
  "log_repeat_purchases",
  "log_mean_spend",
  "rhythm_overdue",
  "log_age_days",
] as const;
export type CorrectionFeature = (typeof CORRECTION_FEATURES)[number];

/** Model outputs the features are computed from. */
export type ModelView = {
  /** The uncorrected model's expectation of what is corrected (purchases, or spend). */
  expectation: number;
  pAlive: number;
  /** Location of the customer's next log gap (purchase-rhythm.ts). */
  rhythmLocation: number;
  /** Spend features when correcting spend, purchase features otherwise. */
  target: "purchases" | "spend";
};

export function correctionFeatures(s: CustomerState, view: ModelView): Record<CorrectionFeature, number> {
  const of = (p: { purchases: number; spend: number }) => (view.target === "spend" ? p.spend : p.purchases);
  const recency = daysSinceLastPurchase(s);
  const mean = s.daySpend.length ? s.daySpend.reduce((a, v) => a + v, 0) / s.daySpend.length : 0;
  return {
    log_model_expectation: Math.log(view.expectation + 1e-3),
    log_last_period: Math.log1p(Math.max(0, of(s.lastPeriod))),
    log_previous_period: Math.log1p(Math.max(0, of(s.previousPeriod))),
    p_alive: view.pAlive,
    log_recency_days: Math.log1p(recency),
    log_repeat_purchases: Math.log1p(s.repeat?.x ?? 0),
    log_mean_spend: Math.log1p(Math.max(0, mean)),
    rhythm_overdue: s.gaps.length ? Math.log1p(recency) - view.rhythmLocation : 0,
    log_age_days: Math.log1p(((s.repeat?.T ?? 0) * WEEK_MS) / DAY_MS),
  };
}

/** What the customer did in [fromMs, fromMs + days): purchase days (orders on one day count once) and spend. */
export function outcomeAfter(history: CustomerHistory, fromMs: number, days: number): { purchases: number; spend: number } {
  const untilMs = fromMs + days * DAY_MS;
  const purchaseDays = new Set<number>();
  let spend = 0;
  for (const p of history.purchases) {
    if (p.ts < fromMs || p.ts >= untilMs) continue;
    purchaseDays.add(Math.floor(p.ts / DAY_MS));
    spend += p.amount;
  }
  return { purchases: purchaseDays.size, spend };
}
