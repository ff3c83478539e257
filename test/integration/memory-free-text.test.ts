import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cleanEvent, type CleanEvent } from "../../pipelines/clean-event";
import { defaultVocabulary } from "../../pipelines/event-names";
import { defaultStageRules } from "../../pipelines/lifecycle-stage";
import { renderEventText } from "../../pipelines/render-text";
import type { StoredEvent } from "../../pipelines/segment";
import { loadConfig } from "../../src/config";
import { createEmbedder } from "../../src/embeddings/create-embedder";
import type { Embedder } from "../../src/embeddings/embedder";
import { createMemoryStore } from "../../src/memory/create-memory-store";
import type { SearchMode } from "../../src/memory/keyword-score";
import type { MemoryStore } from "../../src/memory/memory-store";
import { eventPoint } from "../../src/memory/event-point";
import { TEST_MODEL_CACHE_DIR } from "../support/test-config";

/**
 * Does the memory find what customers wrote? Complaints, reviews, support tickets and
 * cancellation reasons (test/fixtures/memory/free-text.json, labelled by hand before any tuning)
 * go through the real clean → render → embed → upsert path; paraphrased queries are scored by
 * precision@3 (hits in the top 3 over min(3, relevant events)) and MRR (1 / rank of the first hit).
 */
const fixture = JSON.parse(readFileSync(join(import.meta.dir, "../fixtures/memory/free-text.json"), "utf8")) as {
  customers: Record<string, Array<Record<string, unknown>>>;
  queries: Array<{ customerId: string | null; q: string; relevant: string[] }>;
};
const VOCAB_SIZE = 100_000;
const K = 3;
const T0 = Date.UTC(2025, 2, 1);

let dataDir: string;
let embedder: Embedder;
let store: MemoryStore;
const textOf = new Map<string, string>();

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "lifeline-free-text-"));
  const config = loadConfig({ LIFELINE_DATA_DIR: dataDir, LIFELINE_MODEL_CACHE_DIR: TEST_MODEL_CACHE_DIR, LIFELINE_LOCAL_VOCAB_SIZE: String(VOCAB_SIZE), LOG_LEVEL: "silent" });
  embedder = await createEmbedder(config);
  store = await createMemoryStore(config, embedder);
  const events = Object.entries(fixture.customers).flatMap(([customerId, raws]) => cleaned(customerId, raws));
  const texts = events.map((e) => renderEventText(e.event));
  const vectors = await embedder.embed(texts);
  events.forEach((e, i) => textOf.set(e.event.messageId, texts[i]!));
  await store.upsert(events.map(({ customerId, event }, i) => eventPoint(customerId, event, texts[i]!, vectors[i]!)));
}, 120_000);
afterAll(async () => {
  await store.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function cleaned(customerId: string, raws: Array<Record<string, unknown>>): Array<{ customerId: string; event: CleanEvent }> {
  let hasPurchased = false;
  return raws.map((raw, i) => {
    const stored = { ...raw, userId: customerId, timestamp: new Date(T0 + i * 86_400_000).toISOString(), receivedAt: new Date(T0 + i * 86_400_000).toISOString() } as unknown as StoredEvent;
    const result = cleanEvent(stored, defaultVocabulary, { rules: defaultStageRules, hasPurchasedBefore: hasPurchased });
    if (!result.ok) throw new Error(`fixture event ${String(raw.messageId)}: ${result.reason}`);
    hasPurchased ||= result.event.stage === "conversion";
    return { customerId, event: result.event };
  });
}

type Scores = { precisionAt3: number; mrr: number };

async function evaluate(mode: SearchMode): Promise<{ perCustomer: Scores; global: Scores; all: Scores; rows: string[] }> {
  const rows: string[] = [];
  const scored: Array<{ global: boolean } & Scores> = [];
  for (const { customerId, q, relevant } of fixture.queries) {
    const [vector] = await embedder.embed([q]);
    const hits = await store.search({ vector: vector!, text: q, mode, customerId: customerId ?? undefined, limit: 10 });
    const ids = hits.map((h) => h.payload.messageId);
    const inTop = ids.slice(0, K).filter((id) => relevant.includes(id)).length;
    const firstRank = ids.findIndex((id) => relevant.includes(id));
    const s = { global: customerId === null, precisionAt3: inTop / Math.min(K, relevant.length), mrr: firstRank < 0 ? 0 : 1 / (firstRank + 1) };
    scored.push(s);
    rows.push(`  P@3 ${s.precisionAt3.toFixed(2)}  RR ${s.mrr.toFixed(2)}  ${(customerId ?? "(all)").padEnd(7)} ${q.padEnd(38)} top: ${textOf.get(ids[0]!) ?? "-"}`);
  }
  const mean = (xs: Scores[]): Scores => ({
    precisionAt3: xs.reduce((a, x) => a + x.precisionAt3, 0) / xs.length,
    mrr: xs.reduce((a, x) => a + x.mrr, 0) / xs.length,
  });
  return { perCustomer: mean(scored.filter((s) => !s.global)), global: mean(scored.filter((s) => s.global)), all: mean(scored), rows };
}

/**
 * Floors a little under the figures measured when the hybrid mix was chosen (issue 16 note):
 * vector all P@3 0.780 MRR 0.888; hybrid all P@3 0.841 MRR 0.865. A renderer that drops the
 * free text again scores about half (P@3 0.424 MRR 0.521 before issue 16).
 */
const floors: Record<SearchMode, Scores> = { vector: { precisionAt3: 0.7, mrr: 0.8 }, keyword: { precisionAt3: 0, mrr: 0 }, hybrid: { precisionAt3: 0.75, mrr: 0.8 } };

for (const mode of ["vector", "keyword", "hybrid"] as const)
  test(`${mode} search: paraphrased queries find what customers wrote`, async () => {
    const r = await evaluate(mode);
    const fmt = (s: Scores) => `P@3 ${s.precisionAt3.toFixed(3)} MRR ${s.mrr.toFixed(3)}`;
    process.stdout.write(
      `free-text relevance, ${mode} (${fixture.queries.length} queries, ${textOf.size} events):\n${r.rows.join("\n")}\n` +
        `  ${mode}: per customer ${fmt(r.perCustomer)} | global ${fmt(r.global)} | all ${fmt(r.all)}\n`,
    );
    expect(r.all.precisionAt3).toBeGreaterThanOrEqual(floors[mode].precisionAt3);
    expect(r.all.mrr).toBeGreaterThanOrEqual(floors[mode].mrr);
  });
