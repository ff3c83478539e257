import { z } from "zod";
import { normaliseEventName, type EventVocabulary, defaultVocabulary } from "./event-names";
import { classifySignal } from "./explicit-signals";

export const lifecycleStages = ["pre_conversion", "conversion", "post_conversion", "churn_signal"] as const;
export type LifecycleStage = (typeof lifecycleStages)[number];

/**
 * Which normalised event names convert a customer and which signal churn. Beyond the listed
 * churn signals, any event that `classifySignal` recognises (a cancellation, complaint, failed
 * payment… under whatever name) is one too, unless it is listed as a conversion or as neutral.
 */
export type StageRules = {
  conversions: ReadonlySet<string>;
  churnSignals: ReadonlySet<string>;
  /** Never churn signals, whatever their name says. */
  neutral?: ReadonlySet<string>;
};

/**
 * Conversion is the first purchase or subscription. Signing up is not: an account costs the
 * customer nothing. Support tickets are not churn signals by default because most are
 * neutral questions; a complaint is.
 */
export const defaultStageRules: StageRules = {
  conversions: new Set(["Order Completed", "Subscription Started"]),
  churnSignals: new Set([
    "Subscription Cancelled",
    "Subscription Downgraded",
    "Payment Failed",
    "Order Refunded",
    "Order Cancelled",
    "Complaint Filed",
    "Email Unsubscribed",
    "Account Deleted",
  ]),
};

/**
 * The stage of one event. Churn signals win over everything; a conversion event only marks
 * the conversion when the customer had not converted before — a repeat order is
 * post-conversion behaviour.
 */
export function lifecycleStage(event: string, hasPurchasedBefore: boolean, rules: StageRules, properties: Record<string, unknown> = {}): LifecycleStage {
  return isChurnSignal(event, properties, rules) ? "churn_signal" : conversionStage(event, hasPurchasedBefore, rules);
}

/** The stage of an event that is not a churn signal: where it falls against the customer's first conversion. */
export function conversionStage(event: string, hasPurchasedBefore: boolean, rules: StageRules): Exclude<LifecycleStage, "churn_signal"> {
  if (rules.conversions.has(event) && !hasPurchasedBefore) return "conversion";
  return hasPurchasedBefore ? "post_conversion" : "pre_conversion";
}

export function isChurnSignal(event: string, properties: Record<string, unknown>, rules: StageRules): boolean {
  if (rules.churnSignals.has(event)) return true;
  if (rules.conversions.has(event) || rules.neutral?.has(event)) return false;
  return classifySignal(event, properties) !== undefined;
}

const eventNameList = z.array(z.string().trim().min(1, "must not be empty")).default([]);

/** The JSON config file (`config/stage-rules.example.json`); the caller reads the file. */
export const stageRulesSchema = z.strictObject({
  conversions: eventNameList,
  churnSignals: eventNameList,
  /** Events never counted as churn signals, even when their name sounds like one. */
  neutral: eventNameList,
});
export type StageRulesFile = z.infer<typeof stageRulesSchema>;

/**
 * The defaults extended by a config file. Names in the file are normalised like event names
 * ("add_to_cart" → "Product Added"). A name the file lists under one set is removed from the
 * other, so a file can move a default (listing "Order Refunded" under conversions makes it no
 * longer a churn signal). Throws with the offending field when the file is invalid: a bad
 * config should stop start-up.
 */
export function mergeStageRules(
  defaults: StageRules,
  fromFile: unknown,
  vocab: EventVocabulary = defaultVocabulary,
): StageRules {
  const parsed = stageRulesSchema.safeParse(fromFile);
  if (!parsed.success)
    throw new Error(
      `invalid stage rules: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
    );
  const addConversions = parsed.data.conversions.map((n) => normaliseEventName(n, vocab));
  const addChurn = parsed.data.churnSignals.map((n) => normaliseEventName(n, vocab));
  const addNeutral = parsed.data.neutral.map((n) => normaliseEventName(n, vocab));
  const both = addConversions.filter((n) => addChurn.includes(n));
  if (both.length) throw new Error(`invalid stage rules: ${both.join(", ")} listed as both conversion and churn signal`);
  const neutralSignals = addNeutral.filter((n) => addChurn.includes(n));
  if (neutralSignals.length) throw new Error(`invalid stage rules: ${neutralSignals.join(", ")} listed as both neutral and churn signal`);

  const conversions = new Set([...defaults.conversions].filter((n) => !addChurn.includes(n)));
  const churnSignals = new Set([...defaults.churnSignals].filter((n) => !addConversions.includes(n) && !addNeutral.includes(n)));
  for (const n of addConversions) conversions.add(n);
  for (const n of addChurn) churnSignals.add(n);
  return { conversions, churnSignals, neutral: new Set([...(defaults.neutral ?? []), ...addNeutral]) };
}
