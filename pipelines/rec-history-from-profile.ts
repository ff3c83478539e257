import type { Profile } from "./profile";
import type { RecEvent, RecHistory } from "./recommend";

/** The recommender's view of a stored profile: purchased products, and items viewed or carted. */
export function recHistoryFromProfile(profile: Profile): RecHistory {
  const events: RecEvent[] = [];
  for (const purchase of profile.purchases)
    for (const p of purchase.products)
      events.push({ ts: purchase.ts, itemId: p.id, name: p.name, category: p.category, kind: "purchase", quantity: p.quantity });
  for (const [itemId, item] of Object.entries(profile.items)) {
    if (item.carted > 0) events.push({ ts: item.lastAt, itemId, name: item.name, category: item.category, kind: "cart" });
    else if (item.viewed > 0) events.push({ ts: item.lastAt, itemId, name: item.name, category: item.category, kind: "view" });
  }
  return { customerId: profile.customerId, events: events.sort((a, b) => a.ts - b.ts) };
}
