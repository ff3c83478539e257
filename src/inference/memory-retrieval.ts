import type { Embedder } from "../embeddings/embedder";
import type { MemoryStore } from "../memory/memory-store";
import type { ProfileStore } from "../profiles/profile-store";
import type { Retrieval } from "./insights";

const DAY = 86_400_000;
const RISK_WORDS = "cancel cancelled subscription complaint refund failed payment unsubscribe downgrade support problem late delivery";

/**
 * The strategy's retrieved context: the customer's own events closest in meaning to what
 * drives their risk, and what similar customers who stayed went on doing.
 */
export function memoryRetrieval(memory: MemoryStore, embedder: Embedder, profiles: ProfileStore, lowRisk: (customerId: string) => Promise<boolean>): Retrieval {
  return async (profile, churn) => {
    const query = [RISK_WORDS, ...churn.drivers.map((d) => d.reason)].join(". ");
    const [vector] = await embedder.embed([query]);
    const hits = await memory.search({ vector: vector!, customerId: profile.customerId, limit: 8 });
    const relevantEvents = hits.map((h) => ({ ts: h.payload.ts, text: h.payload.text, stage: h.payload.stage, messageId: h.payload.messageId }));

    const similar = await memory.similarCustomers(profile.customerId, 10);
    const similarCustomersWhoStayed = [];
    for (const s of similar) {
      if (similarCustomersWhoStayed.length >= 3) break;
      if (!(await lowRisk(s.customerId))) continue;
      const other = await profiles.get(s.customerId);
      const last = other?.purchases.at(-1);
      if (!other || !last) continue;
      const items = last.products.map((p) => p.name ?? p.id).slice(0, 3).join(", ");
      similarCustomersWhoStayed.push({
        customerId: s.customerId,
        whatWorked: `kept buying (${other.orders} orders); last order ${Math.round((Date.now() - last.ts) / DAY)} days ago${items ? `: ${items}` : ""}`,
      });
    }
    return { relevantEvents, similarCustomersWhoStayed };
  };
}
