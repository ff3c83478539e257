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
  // Queries are made of the drivers' fixed wordings, so few distinct texts recur: embed each once.
  const queryVectors = new Map<string, Float32Array>();
  async function queryVector(text: string): Promise<Float32Array> {
    let vector = queryVectors.get(text);
    if (!vector) {
      [vector] = (await embedder.embed([text])) as [Float32Array];
      if (queryVectors.size >= 1_000) queryVectors.clear();
      queryVectors.set(text, vector);
    }
    return vector;
  }

  return async (profile, churn) => {
    const text = [RISK_WORDS, ...churn.drivers.map((d) => d.reason)].join(". ");
    const hits = await memory.search({ vector: await queryVector(text), text, mode: "hybrid", customerId: profile.customerId, limit: 8 });
    const relevantEvents = hits.map((h) => ({ ts: h.payload.ts, text: h.payload.text, stage: h.payload.stage, messageId: h.payload.messageId }));

    const similar = await memory.similarCustomers(profile.customerId, 10);
    const stayed = (await Promise.all(similar.map(async (s) => ((await lowRisk(s.customerId)) ? s.customerId : undefined)))).filter(
      (id): id is string => id !== undefined,
    );
    const others = await Promise.all(stayed.slice(0, 3).map((id) => profiles.get(id)));
    const similarCustomersWhoStayed = others
      .flatMap((other) => {
        const last = other?.purchases.at(-1);
        if (!other || !last) return [];
        const items = last.products.map((p) => p.name ?? p.id).slice(0, 3).join(", ");
        const whatWorked = `kept buying (${other.orders} orders); last order ${Math.round((Date.now() - last.ts) / DAY)} days ago${items ? `: ${items}` : ""}`;
        return [{ customerId: other.customerId, whatWorked }];
      })
      .slice(0, 3);
    return { relevantEvents, similarCustomersWhoStayed };
  };
}
