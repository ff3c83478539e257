import type { CustomerHistory } from "./churn-features";
import { classifySignal } from "./explicit-signals";
import type { Profile } from "./profile";

type HistoryEvent = CustomerHistory["events"][number];
const DAY_MS = 86_400_000;

/**
 * The churn model's view of a stored profile: its purchases (with their products), the events
 * it keeps, its churn signals with their kind and what the customer said, and the events that
 * took a signal back. Only what happened before `beforeMs` (default: everything).
 */
export function historyFromProfile(profile: Profile, beforeMs = Infinity): CustomerHistory {
  const events = new Map<string, HistoryEvent>();
  for (const e of profile.recentEvents) events.set(e.messageId, { ts: e.ts, messageId: e.messageId, type: e.type, name: e.name, stage: e.stage });
  for (const s of profile.churnSignals) {
    const known = events.get(s.messageId);
    events.set(s.messageId, {
      ...(known ?? { ts: s.ts, messageId: s.messageId, type: "track", name: s.name }),
      stage: "churn_signal",
      // Signals stored before kinds existed are classified by name.
      signal: s.kind ?? classifySignal(s.name) ?? "other",
      ...(s.detail ? { detail: s.detail } : {}),
    });
  }
  for (const r of profile.recoveries ?? []) {
    const known = events.get(r.messageId);
    events.set(r.messageId, { ...(known ?? { ts: r.ts, messageId: r.messageId, type: "track", name: r.name, stage: "post_conversion" }), recovery: r.kind });
  }
  const purchases = profile.purchases
    .filter((p) => p.ts < beforeMs)
    .map((p) => {
      const quantity = p.products.reduce((s, x) => s + x.quantity, 0);
      return {
        ts: p.ts,
        amount: p.revenue,
        messageId: p.messageId,
        ...(p.products.length ? { quantity, products: p.products.map((x) => x.id) } : {}),
      };
    });
  const firstSeenMs = profile.firstSeen ?? profile.purchases[0]?.ts;
  const beforeDay = Math.floor(beforeMs / DAY_MS);
  const activity = Object.entries(profile.dailyActivity)
    .map(([key, any]) => ({ day: Math.floor(Date.parse(`${key}T00:00:00Z`) / DAY_MS), any, ...(profile.dailyKinds?.[key] ?? {}) }))
    .filter((a) => a.day <= beforeDay)
    .sort((a, b) => a.day - b.day);
  return {
    customerId: profile.customerId,
    firstSeenMs: firstSeenMs ?? Math.min(beforeMs, Date.now()),
    purchases,
    events: [...events.values()].filter((e) => e.ts < beforeMs).sort((a, b) => a.ts - b.ts),
    activity,
  };
}
