/**
 * Offers sized by what the customer is predicted to be worth, for the fallback playbook and
 * the LLM prompt alike. Pure.
 *
 * An incentive may cost at most `INCENTIVE_SHARE` of the customer's predicted value over the
 * horizon, so a percentage discount on their next order is capped at what that budget buys
 * (never above `MAX_DISCOUNT_PCT`): no 20 % discount for a customer worth 5. Customers in
 * the top `PERSONAL_CONTACT_PERCENTILE` of predicted value get a call from a person.
 * Percentiles are of the current population, so the rule needs no currency or price level.
 */
import type { Predictions } from "../../pipelines/customer-predictions";
import type { RetentionStrategy, StrategyAction } from "./strategy-schema";

export const INCENTIVE_SHARE = 0.1;
export const MAX_DISCOUNT_PCT = 20;
export const PERSONAL_CONTACT_PERCENTILE = 95;

/** What the strategy writer is told about the customer's predicted value. */
export type CustomerValue = {
  horizonDays: number;
  amount: number;
  currency: string | null;
  /** Share of current customers worth less (0–100). */
  percentile: number;
  expectedOrderValue: number;
  expectedPurchases: number;
  pAlive: number;
  nextOrderLikelyBy: string;
  overdue: boolean;
  basis: Predictions["basis"];
};

export type OfferSizing = {
  maxIncentive: number;
  maxDiscountPct: number;
  personalContact: boolean;
  /** One sentence for the rationale: the value, the budget and what it allows. */
  reason: string;
};

export function customerValue(p: Predictions): CustomerValue {
  return {
    horizonDays: p.value.horizonDays,
    amount: p.value.amount,
    currency: p.value.currency,
    percentile: p.value.percentile,
    expectedOrderValue: p.value.expectedOrderValue,
    expectedPurchases: p.expectedPurchases.value,
    pAlive: p.pAlive,
    nextOrderLikelyBy: p.nextPurchase.likelyBy,
    overdue: p.nextPurchase.overdue,
    basis: p.basis,
  };
}

const money = (v: number, currency: string | null) => `${v.toFixed(2)} ${currency ?? "(currency unknown)"}`;

export function offerSizing(v: CustomerValue): OfferSizing {
  const maxIncentive = Math.round(INCENTIVE_SHARE * Math.max(0, v.amount) * 100) / 100;
  const affordable = v.expectedOrderValue > 0 ? (100 * maxIncentive) / v.expectedOrderValue : 0;
  const maxDiscountPct = Math.min(MAX_DISCOUNT_PCT, Math.floor(affordable / 5) * 5);
  const personalContact = v.percentile >= PERSONAL_CONTACT_PERCENTILE;
  const rank = `above ${Math.round(v.percentile)} % of customers${v.basis === "population" ? "; population-level, from one order or none" : ""}`;
  const allows = maxDiscountPct > 0 ? `discounts up to ${maxDiscountPct} % of an order` : "no discount";
  const reason =
    `Sized by predicted value: ${money(v.amount, v.currency)} over the next ${v.horizonDays} days (${rank}), ` +
    `so an offer may cost at most ${money(maxIncentive, v.currency)} (${INCENTIVE_SHARE * 100} %): ${allows}` +
    `${personalContact ? `; in the top ${100 - PERSONAL_CONTACT_PERCENTILE} %, so a call from a person` : ""}.`;
  return { maxIncentive, maxDiscountPct, personalContact, reason };
}

const PERCENT = /(\d+(?:\.\d+)?)\s*%/g;
const HAS_PERCENT = /\d\s*%/;
const DISCOUNT_CLAUSE = /(?:^|[,;]?\s*(?:or|and)?\s*)[^,;]*\d+(?:\.\d+)?\s*%[^,;]*/g;
const DISCOUNT_SENTENCE = /[^.!?]*\d+(?:\.\d+)?\s*%[^.!?]*[.!?]\s*/g;

/**
 * The playbook's plan with its offers sized: discounts above the cap come down to it (or go,
 * with the sentences of the draft that promise them), a top-value customer gets a call from a
 * person first, and the rationale says why.
 */
export function sizeOffers(strategy: RetentionStrategy, value: CustomerValue | undefined): RetentionStrategy {
  if (!value) return strategy;
  const sizing = offerSizing(value);
  const cap = sizing.maxDiscountPct;
  const capText = (text: string) => text.replace(PERCENT, (match, pct: string) => (Number(pct) > cap ? `${cap}%` : match));
  const actions: StrategyAction[] = strategy.actions.map((a) => {
    if (!a.offer || !HAS_PERCENT.test(a.offer)) return a;
    return { ...a, offer: cap > 0 ? capText(a.offer) : withoutDiscount(a.offer) };
  });
  if (sizing.personalContact && !actions.some((a) => a.channel === "call"))
    actions.unshift({
      action: "Call from a named person (account manager) to hear how things are going and tailor the offer",
      channel: "call",
      offer: sizing.maxIncentive > 0 ? `A tailored offer worth up to ${money(sizing.maxIncentive, value.currency)}` : null,
      timing: "within 2 days",
    });
  const draft = cap > 0 ? capText(strategy.messageDraft) : strategy.messageDraft.replace(DISCOUNT_SENTENCE, "").trim();
  return {
    ...strategy,
    actions: actions.slice(0, 5),
    messageDraft: draft || strategy.messageDraft,
    rationale: clip(`${strategy.rationale} ${sizing.reason}`, 1_200),
  };
}

/** "Pause for a month, or 10% off next month" → "Pause for a month"; "15% off the next order" → null. */
function withoutDiscount(offer: string): string | null {
  const rest = offer.replace(DISCOUNT_CLAUSE, "").replace(/^[\s,;]+|[\s,;]+$/g, "");
  return rest.length > 0 ? rest : null;
}

const clip = (s: string, max: number) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);
