import type { CustomerHistory } from "./churn-features";
import type { Profile } from "./profile";

/** The churn model's view of a stored profile: its purchases and the events it keeps. */
export function historyFromProfile(profile: Profile): CustomerHistory {
  const events = new Map<string, CustomerHistory["events"][number]>();
  for (const e of profile.recentEvents) events.set(e.messageId, { ts: e.ts, messageId: e.messageId, type: e.type, name: e.name, stage: e.stage });
  for (const s of profile.churnSignals)
    if (!events.has(s.messageId)) events.set(s.messageId, { ts: s.ts, messageId: s.messageId, type: "track", name: s.name, stage: "churn_signal" });
  return {
    customerId: profile.customerId,
    firstSeenMs: profile.firstSeen ?? profile.purchases[0]?.ts ?? Date.now(),
    purchases: profile.purchases.map((p) => ({ ts: p.ts, amount: p.revenue, messageId: p.messageId })),
    events: [...events.values()].sort((a, b) => a.ts - b.ts),
  };
}
