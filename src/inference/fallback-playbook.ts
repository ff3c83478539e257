/**
 * The deterministic retention plan used when the LLM is not configured, unavailable or gives
 * no valid answer. Pure: the same context always gives the same plan, and every plan is
 * valid against `retentionStrategySchema`.
 *
 * Each churn driver maps to a play (by its model feature, else by the wording of its reason);
 * the strongest drivers choose the plays, the risk tier chooses how much to give away.
 * A failed payment always goes first: it is involuntary churn and the cheapest to fix.
 * Low-risk customers get no discounts (they would mostly stay anyway): payment and service
 * problems are still fixed, everything else becomes loyalty nurture. Offers are then sized by
 * the customer's predicted value (offer-sizing.ts).
 */
import type { RiskTier } from "./churn-prediction.ts";
import { sizeOffers } from "./offer-sizing.ts";
import type { StrategyContext, StrategyDriver } from "./strategy-context.ts";
import type { RetentionStrategy, StrategyAction } from "./strategy-schema.ts";

export type Play = "payment" | "service_recovery" | "save_cancellation" | "win_back" | "spend_recovery" | "check_in" | "nurture";

const playByFeature: Record<string, Play> = {
  failed_payments: "payment",
  complaints: "service_recovery",
  cancellations: "save_cancellation",
  downgrades: "save_cancellation",
  churn_signals: "save_cancellation",
  refunds: "service_recovery",
  negative_feedback: "service_recovery",
  unsubscribes: "check_in",
  stage_changes: "check_in",
  recency_days: "win_back",
  days_since_last_activity: "win_back",
  overdue_ratio: "win_back",
  purchases_recent_window: "win_back",
  activity_recent_window: "win_back",
  engagement_trend: "win_back",
  frequency: "win_back",
  ipt_mean_days: "win_back",
  ipt_cv: "win_back",
  tenure_days: "win_back",
  bgnbd_p_alive: "win_back",
  bgnbd_expected_purchases: "win_back",
  bgnbd_p_no_purchase: "win_back",
  neighbour_churn_rate: "win_back",
  monetary_avg: "spend_recovery",
  monetary_total_log: "spend_recovery",
  spend_trend: "spend_recovery",
  last_amount_ratio: "spend_recovery",
};

// For drivers without a known feature; first match wins, so the narrower words come first.
const playByReason: [RegExp, Play][] = [
  [/payment|declin|card expired|billing/i, "payment"],
  [/complain|support|refund|ticket|negative feedback/i, "service_recovery"],
  [/cancel|downgrad|churn signal/i, "save_cancellation"],
  [/spend|order value|amount|basket/i, "spend_recovery"],
  [/bought|buy|purchase|order|lapsed|inactiv|activity|overdue|visit/i, "win_back"],
];

const DISCOUNT_PLAYS = new Set<Play>(["save_cancellation", "win_back", "spend_recovery"]);
const MAX_PLAYS = 3;

export function playForDriver(driver: Pick<StrategyDriver, "reason" | "feature">): Play | undefined {
  if (driver.feature && playByFeature[driver.feature]) return playByFeature[driver.feature];
  return playByReason.find(([pattern]) => pattern.test(driver.reason))?.[1];
}

export function fallbackStrategy(ctx: StrategyContext): RetentionStrategy {
  const tier = ctx.churn.riskTier;
  const chosen = choosePlays(ctx.churn.drivers, tier);
  const item = topRecommendation(ctx);
  const actions = chosen.flatMap(({ play }) => actionsFor(play, tier, item)).slice(0, 5);
  const first = chosen[0]!.play;
  return sizeOffers({
    objective: OBJECTIVE[first],
    actions,
    messageDraft: clip(draftFor(first, tier, item), 1_200),
    rationale: clip(rationale(ctx, chosen), 1_200),
    citedMessageIds: [...new Set(chosen.flatMap(({ driver }) => (driver?.evidence ?? []).slice(-3).map((e) => e.messageId)))]
      .filter((id) => id.length > 0 && id.length <= 200)
      .slice(0, 10),
  }, ctx.value);
}

type Chosen = { play: Play; driver?: StrategyDriver };

function choosePlays(drivers: readonly StrategyDriver[], tier: RiskTier): Chosen[] {
  const byStrength = drivers
    .filter((d) => d.contribution > 0)
    .sort((a, b) => b.contribution - a.contribution || a.reason.localeCompare(b.reason));
  const chosen: Chosen[] = [];
  for (const driver of byStrength) {
    const play = playForDriver(driver);
    if (!play || chosen.some((c) => c.play === play)) continue;
    if (tier === "low" && DISCOUNT_PLAYS.has(play)) continue;
    chosen.push({ play, driver });
  }
  const payment = chosen.findIndex((c) => c.play === "payment");
  if (payment > 0) chosen.unshift(...chosen.splice(payment, 1));
  if (tier === "low") chosen.push({ play: "nurture" });
  if (chosen.length === 0) chosen.push({ play: tier === "high" ? "win_back" : "check_in" });
  return chosen.slice(0, MAX_PLAYS);
}

const OBJECTIVE: Record<Play, string> = {
  payment: "Recover the failed payment before the account lapses",
  service_recovery: "Resolve the customer's complaint and rebuild trust",
  save_cancellation: "Keep the customer from cancelling or downgrading",
  win_back: "Win the customer back to a next purchase",
  spend_recovery: "Bring the customer's spend back to its usual level",
  check_in: "Re-engage the customer and learn what changed",
  nurture: "Keep a healthy customer engaged and loyal",
};

function actionsFor(play: Play, tier: RiskTier, item: string | undefined): StrategyAction[] {
  const high = tier === "high";
  const featuring = item ? ` featuring ${item}` : "";
  switch (play) {
    case "payment":
      return [
        { action: "Remind the customer to update their payment method, with a direct link to billing", channel: "email", offer: null, timing: "within 1 hour" },
        ...(high
          ? [{ action: "Follow up by SMS if the payment method is still not updated", channel: "sms" as const, offer: null, timing: "after 24 hours" }]
          : []),
      ];
    case "service_recovery":
      return [
        high
          ? { action: "Service recovery call from a senior agent to resolve the complaint", channel: "call", offer: "Goodwill credit on the next order", timing: "within 24 hours" }
          : { action: "Personal email from support acknowledging the issue and how it was fixed", channel: "email", offer: tier === "medium" ? "Goodwill credit on the next order" : null, timing: "within 24 hours" },
      ];
    case "save_cancellation":
      return [
        high
          ? { action: "Call before the cancellation takes effect and offer a pause or a lighter plan", channel: "call", offer: "Pause for up to 2 months, or 20% off the next 3 months", timing: "within 24 hours" }
          : { action: "Email offering a pause or a lighter plan instead of cancelling", channel: "email", offer: "Pause for a month, or 10% off next month", timing: "within 2 days" },
      ];
    case "win_back":
      return [
        { action: clip(`Win-back email${featuring}`, 300), channel: "email", offer: high ? "15% off the next order" : "10% off the next order", timing: "within 2 days" },
        ...(high ? [{ action: "Push reminder of the offer if there is no visit", channel: "push" as const, offer: null, timing: "day 5" }] : []),
      ];
    case "spend_recovery":
      return [{ action: clip(`Personalised picks based on past orders${featuring}`, 300), channel: "email", offer: "Free shipping on the next order", timing: "within 3 days" }];
    case "check_in":
      return [{ action: "Personal check-in with a one-question survey about what changed", channel: "email", offer: null, timing: "within 3 days" }];
    case "nurture":
      return [{ action: clip(`Loyalty nurture: thank them, show loyalty status and new arrivals${featuring}`, 300), channel: "in_app", offer: null, timing: "next visit" }];
  }
}

function draftFor(play: Play, tier: RiskTier, item: string | undefined): string {
  const pick = item ? ` We think you'll like ${item}.` : "";
  switch (play) {
    case "payment":
      return "Hi {first_name}, your last payment didn't go through. Update your payment method in a minute so nothing is interrupted.";
    case "service_recovery":
      return "Hi {first_name}, we're sorry about your recent experience. We'd like to put it right: reply to this message or expect a call from us.";
    case "save_cancellation":
      return "Hi {first_name}, before you go: you can pause your plan or switch to a lighter one and keep everything you've set up.";
    case "win_back":
      return `Hi {first_name}, it's been a while and we've missed you.${pick} Here's ${tier === "high" ? "15%" : "10%"} off your next order.`;
    case "spend_recovery":
      return `Hi {first_name}, we picked a few things for you based on what you've loved before.${pick} Shipping is on us for your next order.`;
    case "check_in":
      return "Hi {first_name}, how are things going? Tell us in one click what we could do better.";
    case "nurture":
      return `Hi {first_name}, thank you for being with us.${pick} Here's what's new.`;
  }
}

function rationale(ctx: StrategyContext, chosen: Chosen[]): string {
  const pct = Math.round(Math.min(1, Math.max(0, ctx.churn.probability)) * 100);
  const why = chosen.map(({ play, driver }) => (driver ? `${play.replaceAll("_", " ")} for "${clip(driver.reason, 120)}"` : play.replaceAll("_", " ")));
  return `Rule-based playbook (no LLM answer). Churn risk ${ctx.churn.riskTier} (${pct}%). Plays: ${why.join("; ")}.`;
}

function topRecommendation(ctx: StrategyContext): string | undefined {
  const r = ctx.recommendations?.[0];
  const name = (r?.name ?? r?.itemId)?.replace(/\s+/g, " ").trim();
  return name ? clip(name, 60) : undefined;
}

const clip = (s: string, max: number) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);
