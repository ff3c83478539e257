/**
 * Explicit churn signals: what a customer says or does that announces leaving (cancelling,
 * downgrading, complaining, a failed payment, a refund, negative feedback, unsubscribing), and
 * the events that take it back (re-subscribing, a payment that went through, a resolved issue,
 * positive feedback). Recognised by a general rule over the normalised event name and, for
 * feedback, its score, so a producer's own naming ("Complaint Submitted", "Plan Cancelled",
 * "NPS Survey Answered" with score 3) counts without configuration. Pure.
 */
import { z } from "zod";

/** `other`: an event the stage rules list as a churn signal that no rule here recognises. */
export const signalKinds = ["cancellation", "downgrade", "complaint", "failed_payment", "refund", "negative_feedback", "unsubscribe", "other"] as const;
export const signalKindSchema = z.enum(signalKinds);
export type SignalKind = z.infer<typeof signalKindSchema>;

export const recoveryKinds = ["resubscribe", "payment_recovered", "issue_resolved", "positive_feedback"] as const;
export const recoveryKindSchema = z.enum(recoveryKinds);
export type RecoveryKind = z.infer<typeof recoveryKindSchema>;

/** First match wins: the narrower patterns come first ("Order Cancelled" is a refund, not a cancellation). */
const SIGNAL_PATTERNS: readonly [RegExp, SignalKind][] = [
  [/\b(unsubscri\w*|opt(ed)? ?out)\b.*\b(e-?mail|newsletter|sms|push|marketing)\b|\b(e-?mail|newsletter|sms|push|marketing)\b.*\b(unsubscri\w*|opt(ed)? ?out)\b|marked as spam|spam report/, "unsubscribe"],
  [/\brefund|chargeback|\bdisput|\breturn(ed)? (request|initiat|creat|start)|\border\w* cancel|cancel\w* order|\bitem\w* returned|\border returned/, "refund"],
  [/\bpayment\w* (fail|declin|error|reject|bounc)|\b(fail|declin|reject)\w* (payment|charge|card|invoice)|charge\w* fail|card\w* (expired|declin)|\bdunning\b|past due|invoice\w* (overdue|unpaid|fail)/, "failed_payment"],
  [/downgrad|\bplan\w* (reduc|lower)|seats? (removed|reduced)|\bpaus(e|ed)\b/, "downgrade"],
  [/\bcancel|\bchurn(ed)?\b|account\w* (delet|clos|terminat)|(delet|clos|terminat)\w* account|subscription\w* (end|expir|terminat|lapse)|\bunsubscri/, "cancellation"],
  [/negative (feedback|review|rating)|bad review|thumbs? down|\bdislike|\bdetractor/, "negative_feedback"],
  [/complain|grievance|escalat|dissatisf/, "complaint"],
];

const RECOVERY_PATTERNS: readonly [RegExp, RecoveryKind][] = [
  [/\bpayment\w* (succe|complet|recover|updat|captur)|\b(card|billing|payment method)\w* (updat|add|chang)|invoice\w* paid/, "payment_recovered"],
  [/(complaint|ticket|issue|case|dispute)\w* (resolv|clos|solv|fix)/, "issue_resolved"],
  [/subscription\w* (start|renew|reactivat|resum|restart|creat|upgrad)|\b(re-?subscri\w*|reactivat\w*|renew(ed|al)?|resum(e|ed)|upgrad\w*)\b|trial\w* convert/, "resubscribe"],
];

/** Names of events that carry a score: reviews, surveys, ratings. */
const FEEDBACK_EVENT = /review|feedback|survey|rating|rated|\bnps\b|csat|\bscore/;
const SCORE_KEYS = ["rating", "stars", "score", "nps", "nps_score", "csat", "csat_score", "satisfaction", "rate", "value"];
const SCALE_KEYS = ["scale", "max", "max_rating", "out_of", "best", "best_rating"];

const lower = (name: string) => name.toLowerCase();

/**
 * The score a review, survey or rating carries, as a share of the best (0 worst, 1 best), and
 * whether it is on a 0–10 scale (NPS-like); undefined when the event carries none.
 */
export function feedbackScore(name: string, properties: Record<string, unknown>): { share: number; tenPoint: boolean } | undefined {
  const sentiment = typeof properties.sentiment === "string" ? properties.sentiment.toLowerCase() : undefined;
  if (sentiment === "negative") return { share: 0, tenPoint: false };
  if (sentiment === "positive") return { share: 1, tenPoint: false };
  for (const key of SCORE_KEYS) {
    const value = toNumber(properties[key]);
    if (value === undefined || value < 0) continue;
    const stated = SCALE_KEYS.map((k) => toNumber(properties[k])).find((s) => s !== undefined && s > 0);
    const isNps = key.startsWith("nps") || /\bnps\b/.test(lower(name));
    const scale = stated ?? (isNps || value > 5 ? 10 : 5);
    if (value > scale) continue;
    // 1–5 stars start at 1; 0–10 scales start at 0.
    const least = scale === 5 && !stated && value >= 1 ? 1 : 0;
    return { share: (value - least) / (scale - least), tenPoint: scale === 10 };
  }
  return undefined;
}

/** NPS detractors (0–6 of 10) and 1–2 stars of 5 are negative; promoters (9–10) and 4–5 stars positive. */
const isNegative = (f: { share: number; tenPoint: boolean }) => f.share <= (f.tenPoint ? 0.6 : 0.25);
const isPositive = (f: { share: number; tenPoint: boolean }) => f.share >= (f.tenPoint ? 0.9 : 0.75);

const recoveryByName = (text: string) => RECOVERY_PATTERNS.find(([pattern]) => pattern.test(text))?.[1];

export function classifySignal(name: string, properties: Record<string, unknown> = {}): SignalKind | undefined {
  const text = lower(name);
  if (FEEDBACK_EVENT.test(text)) {
    const score = feedbackScore(name, properties);
    if (score !== undefined) return isNegative(score) ? "negative_feedback" : undefined;
  }
  // "Complaint Resolved" names a complaint but takes one back.
  if (recoveryByName(text)) return undefined;
  return SIGNAL_PATTERNS.find(([pattern]) => pattern.test(text))?.[1];
}

export function classifyRecovery(name: string, properties: Record<string, unknown> = {}): RecoveryKind | undefined {
  const text = lower(name);
  if (FEEDBACK_EVENT.test(text)) {
    const score = feedbackScore(name, properties);
    if (score !== undefined) return isPositive(score) ? "positive_feedback" : undefined;
  }
  return recoveryByName(text);
}

/** Which later events take a signal back (a purchase takes back every kind). */
export const RESOLVED_BY: Record<SignalKind, readonly RecoveryKind[]> = {
  cancellation: ["resubscribe"],
  downgrade: ["resubscribe"],
  complaint: ["issue_resolved", "positive_feedback"],
  failed_payment: ["payment_recovered"],
  refund: [],
  negative_feedback: ["positive_feedback", "issue_resolved"],
  unsubscribe: ["resubscribe"],
  other: [],
};

const DETAIL_KEYS = ["reason", "cancel_reason", "cancellation_reason", "churn_reason", "feedback", "comment", "text", "message", "body", "description", "subject", "plan", "previous_plan", "rating", "score", "nps"];
const MAX_DETAIL_CHARS = 160;
const PERSONAL = [/\S+@\S+\.\S+/g, /\bhttps?:\/\/\S+/gi, /\+?\d[\d\s().-]{7,}\d/g];

/** A short, personal-data-free note of what the customer said ("reason: too expensive"), or undefined. */
export function signalDetail(properties: Record<string, unknown>): string | undefined {
  const parts: string[] = [];
  for (const key of DETAIL_KEYS) {
    const v = properties[key];
    if (typeof v !== "string" && typeof v !== "number") continue;
    let text = String(v);
    for (const p of PERSONAL) text = text.replace(p, " ");
    text = text.replace(/\s+/g, " ").trim();
    if (text) parts.push(`${key.replaceAll("_", " ")}: ${text}`);
  }
  if (!parts.length) return undefined;
  const joined = parts.join("; ");
  return joined.length > MAX_DETAIL_CHARS ? `${joined.slice(0, MAX_DETAIL_CHARS - 1).trimEnd()}…` : joined;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}
