import type { CustomerHistory } from "../../pipelines/churn-features";
import { historyFromProfile } from "../../pipelines/history-from-profile";
import { recHistoryFromProfile } from "../../pipelines/rec-history-from-profile";
import { buildRecommender, type RecHistory } from "../../pipelines/recommend";
import type { Profile } from "../../pipelines/profile";
import { isAnonymousCustomer, type ProfileStore } from "../profiles/profile-store";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";
import { fitChurnArtifacts } from "./churn-artifacts";
import type { ChurnDefinition } from "./churn-model";
import { chooseRecommender } from "./recommender-choice";
import { dataStatsSchema, type DataStats } from "./refit-policy";

export type RefitProgress = { stage: string; done: number; total: number };
export type RefitSummary = {
  reason: string;
  customers: number;
  /** The instant the models were fitted as of. */
  asOf: string;
  churn: { version: string; mode: "learned" | "bgnbd"; note?: string };
  recommender: { version: string; items: number };
  seconds: number;
};

export async function readDataStats(redis: RedisClient, keys: Keyspace): Promise<DataStats> {
  return dataStatsSchema.parse(await redis.hgetall(keys.dataStats()));
}

/** Reads every known customer's profile; anonymous visitors are left out of training. */
export async function loadPopulation(profiles: ProfileStore, onProgress?: (done: number, total: number) => void): Promise<Profile[]> {
  const total = await profiles.count();
  const out: Profile[] = [];
  let batch: string[] = [];
  let seen = 0;
  const flush = async () => {
    const loaded = await Promise.all(batch.map((id) => profiles.get(id)));
    for (const p of loaded) if (p) out.push(p);
    batch = [];
    onProgress?.(seen, total);
  };
  for await (const id of profiles.customerIds()) {
    seen++;
    if (isAnonymousCustomer(id)) continue;
    batch.push(id);
    if (batch.length >= 500) await flush();
  }
  await flush();
  return out;
}

/** The latest event time of the population, or undefined when it has none. */
export function populationDataThrough(population: readonly Profile[]): number | undefined {
  let latest: number | undefined;
  for (const p of population) if (p.lastSeen !== null && (latest === undefined || p.lastSeen > latest)) latest = p.lastSeen;
  // Just after the latest event, so that event is history.
  return latest === undefined ? undefined : latest + 1;
}

/** Fits the churn artifacts and the recommender on the population as of asOfMs; pure apart from the read. */
export function fitModels(population: Profile[], asOfMs: number, definition: ChurnDefinition, onProgress?: (p: RefitProgress) => void) {
  const histories: CustomerHistory[] = population.map((p) => historyFromProfile(p, asOfMs));
  onProgress?.({ stage: "fitting the churn model", done: 0, total: 2 });
  const churn = fitChurnArtifacts(histories, asOfMs, definition);
  onProgress?.({ stage: "choosing and fitting the recommender", done: 1, total: 2 });
  const recHistories: RecHistory[] = population.map(recHistoryFromProfile).map((h) => ({ ...h, events: h.events.filter((e) => e.ts < asOfMs) }));
  const { options, choice, note } = chooseRecommender(recHistories, asOfMs, definition.horizonDays);
  return { churn, recommender: buildRecommender(recHistories, options), recommenderChoice: choice, recommenderNote: note };
}
