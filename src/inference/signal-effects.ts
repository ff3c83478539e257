/**
 * What explicit churn signals add to a churn score, in every model mode: a log-odds effect per
 * signal kind on top of the behavioural model (learned trees, BG/NBD or the cold-start rate),
 * so a cancellation or a complaint counts from the first event, before any model has learned
 * from labelled history. Pure.
 *
 * A signal weighs 1 when it happens and halves every `halfLifeDays`; a later purchase or an
 * event that takes it back (RESOLVED_BY: re-subscribing after a cancellation, a payment that
 * went through after a failed one) leaves `resolvedShare` of it. Repeated signals of one kind
 * add up to at most MAX_STRENGTH. The effects start at documented priors and, at each refit,
 * are estimated on the tenant's labelled snapshots (a logistic regression with the behavioural
 * score as offset and a normal prior around these values), never below MIN_EFFECT: a signal
 * always raises the risk.
 */
import { z } from "zod";
import { DAY_MS } from "../../pipelines/bgnbd";
import type { CustomerHistory, Evidence, HistoryEvent } from "../../pipelines/churn-features";
import { RESOLVED_BY, signalKinds, signalKindSchema, type SignalKind } from "../../pipelines/explicit-signals";

/** Log-odds each kind adds at full weight before a tenant's own data says otherwise. */
export const PRIOR_EFFECTS: Record<SignalKind, number> = {
  cancellation: 2.0,
  failed_payment: 1.1,
  complaint: 1.0,
  downgrade: 0.9,
  negative_feedback: 0.8,
  refund: 0.5,
  unsubscribe: 0.4,
  other: 0.3,
};
/** Standard deviation of the prior around PRIOR_EFFECTS (log-odds). */
const PRIOR_SD = 0.5;
const MIN_EFFECT = 0.1;
const MAX_STRENGTH = 1.5;

export const signalEffectsSchema = z.object({
  halfLifeDays: z.number().positive(),
  resolvedShare: z.number().min(0).max(1),
  effects: z.record(
    signalKindSchema,
    z.object({
      logOdds: z.number(),
      /** `fitted`: estimated on `rows` labelled customers who had this signal; `prior`: too few had it. */
      source: z.enum(["prior", "fitted"]),
      rows: z.number().int().nonnegative(),
    }),
  ),
  /**
   * With explicit cancellation on: a customer whose latest subscription event is a cancellation,
   * and who has not bought since, scores at least this probability.
   */
  cancelledFloor: z.number().min(0).max(1).optional(),
});
export type SignalEffects = z.infer<typeof signalEffectsSchema>;

/** Probability floor for a customer whose latest subscription event is a cancellation. */
export const CANCELLED_FLOOR = 0.9;

export function priorSignalEffects(horizonDays: number, explicitCancellation: boolean): SignalEffects {
  return {
    halfLifeDays: horizonDays,
    resolvedShare: 0.25,
    effects: Object.fromEntries(signalKinds.map((k) => [k, { logOdds: PRIOR_EFFECTS[k], source: "prior" as const, rows: 0 }])) as SignalEffects["effects"],
    ...(explicitCancellation ? { cancelledFloor: CANCELLED_FLOOR } : {}),
  };
}

/** One kind's signals as of an instant: their weight and what they rest on. */
export type ActiveSignal = {
  kind: SignalKind;
  /** Σ decayed weights, capped at MAX_STRENGTH */
  strength: number;
  count: number;
  /** The latest signal of this kind, and what took it back (if anything did). */
  latest: HistoryEvent;
  resolvedBy?: Evidence;
  evidence: Evidence[];
};

const cite = (e: { messageId: string; ts: number; type?: string; name?: string }): Evidence => ({
  messageId: e.messageId,
  ts: e.ts,
  type: e.type ?? "track",
  name: e.name ?? "Order Completed",
});

/** Every kind of signal the customer sent before `asOfMs`, with its current strength. */
export function activeSignals(history: CustomerHistory, asOfMs: number, effects: Pick<SignalEffects, "halfLifeDays" | "resolvedShare">): ActiveSignal[] {
  const events = history.events.filter((e) => e.ts < asOfMs);
  const purchases = history.purchases.filter((p) => p.ts < asOfMs);
  const byKind = new Map<SignalKind, ActiveSignal>();
  for (const e of events) {
    if (!e.signal) continue;
    const takenBack =
      events.find((r) => r.ts > e.ts && r.recovery !== undefined && RESOLVED_BY[e.signal!].includes(r.recovery)) ??
      purchases.find((p) => p.ts > e.ts);
    const decay = Math.pow(0.5, (asOfMs - e.ts) / (effects.halfLifeDays * DAY_MS));
    const weight = decay * (takenBack ? effects.resolvedShare : 1);
    const current = byKind.get(e.signal);
    if (!current) {
      byKind.set(e.signal, { kind: e.signal, strength: weight, count: 1, latest: e, ...(takenBack ? { resolvedBy: cite(takenBack) } : {}), evidence: [cite(e)] });
      continue;
    }
    current.strength += weight;
    current.count++;
    current.evidence = [...current.evidence, cite(e)].slice(-3);
    if (e.ts >= current.latest.ts) {
      current.latest = e;
      if (takenBack) current.resolvedBy = cite(takenBack);
      else delete current.resolvedBy;
    }
  }
  for (const s of byKind.values()) {
    s.strength = Math.min(MAX_STRENGTH, s.strength);
    if (s.resolvedBy) s.evidence = [...s.evidence, s.resolvedBy];
  }
  return [...byKind.values()].sort((a, b) => signalKinds.indexOf(a.kind) - signalKinds.indexOf(b.kind));
}

/**
 * True when the customer's latest subscription event before `asOfMs` is a cancellation and
 * nothing since (a re-subscription, a purchase) took it back.
 */
export function isCancelled(history: CustomerHistory, asOfMs: number): boolean {
  let latest: HistoryEvent | undefined;
  for (const e of history.events)
    if (e.ts < asOfMs && (e.signal === "cancellation" || e.recovery === "resubscribe") && (!latest || e.ts >= latest.ts)) latest = e;
  if (latest?.signal !== "cancellation") return false;
  return !history.purchases.some((p) => p.ts > latest!.ts && p.ts < asOfMs);
}

/** Log-odds the customer's signals add, per kind. */
export const signalContribution = (s: ActiveSignal, effects: SignalEffects) => s.strength * (effects.effects[s.kind]?.logOdds ?? PRIOR_EFFECTS[s.kind]);

/** A labelled customer for fitting: the behavioural model's log-odds and their signals at the snapshot. */
export type SignalFitRow = { offset: number; label: number; signals: ActiveSignal[] };

/**
 * MAP estimate of each kind's effect: logistic regression of the labels on signal strengths
 * with the behavioural log-odds as offset, a N(prior, PRIOR_SD²) prior per effect (so a kind
 * seen on a handful of customers stays near its prior), and the floor MIN_EFFECT.
 */
export function fitSignalEffects(rows: readonly SignalFitRow[], start: SignalEffects, minRows = 20): SignalEffects {
  const kinds = signalKinds.filter((k) => rows.filter((r) => r.signals.some((s) => s.kind === k)).length >= minRows);
  if (kinds.length === 0) return start;
  const used = rows.filter((r) => r.signals.some((s) => kinds.includes(s.kind)));
  const x = used.map((r) => kinds.map((k) => r.signals.find((s) => s.kind === k)?.strength ?? 0));
  // Kinds not fitted still shift their rows by their prior effect.
  const fixed = used.map((r) => r.offset + r.signals.filter((s) => !kinds.includes(s.kind)).reduce((sum, s) => sum + signalContribution(s, start), 0));
  const prior = kinds.map((k) => PRIOR_EFFECTS[k]);
  const beta = [...prior];
  const m = kinds.length;
  for (let iteration = 0; iteration < 50; iteration++) {
    const grad = beta.map((b, j) => (b - prior[j]!) / PRIOR_SD ** 2);
    const hess = Array.from({ length: m }, (_, j) => Array.from({ length: m }, (_, k) => (j === k ? 1 / PRIOR_SD ** 2 : 0)));
    used.forEach((r, i) => {
      const z = fixed[i]! + x[i]!.reduce((s, v, j) => s + v * beta[j]!, 0);
      const p = 1 / (1 + Math.exp(-z));
      for (let j = 0; j < m; j++) {
        grad[j]! += (p - r.label) * x[i]![j]!;
        for (let k = 0; k < m; k++) hess[j]![k]! += p * (1 - p) * x[i]![j]! * x[i]![k]!;
      }
    });
    const step = solve(hess, grad);
    let moved = 0;
    for (let j = 0; j < m; j++) {
      const next = Math.max(MIN_EFFECT, beta[j]! - step[j]!);
      moved = Math.max(moved, Math.abs(next - beta[j]!));
      beta[j] = next;
    }
    if (moved < 1e-6) break;
  }
  const effects = { ...start.effects };
  kinds.forEach((k, j) => {
    effects[k] = { logOdds: Math.round(beta[j]! * 1000) / 1000, source: "fitted", rows: used.filter((r) => r.signals.some((s) => s.kind === k)).length };
  });
  return { ...start, effects };
}

/** Solves A·s = b for a small symmetric positive-definite A (Gaussian elimination). */
function solve(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    const pivot = m[c]![c]!;
    for (let r = c + 1; r < n; r++) {
      const f = m[r]![c]! / pivot;
      for (let k = c; k <= n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  const s = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let v = m[r]![n]!;
    for (let k = r + 1; k < n; k++) v -= m[r]![k]! * s[k]!;
    s[r] = v / m[r]![r]!;
  }
  return s;
}
