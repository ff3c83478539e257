import type { CustomerHistory } from "../../pipelines/churn-features";
import { historyFromProfile } from "../../pipelines/history-from-profile";
import { recHistoryFromProfile } from "../../pipelines/rec-history-from-profile";
import { buildRecommender, type RecHistory } from "../../pipelines/recommend";
import type { Profile } from "../../pipelines/profile";
import { isAnonymousCustomer, type ProfileStore } from "../profiles/profile-store";
import { fitChurnArtifacts, type ChurnArtifacts } from "./churn-artifacts";
import type { ChurnDefinition } from "./churn-model";


/** Reads every known customer's profile; anonymous visitors are left out of training. */
export async function loadPopulation(profiles: ProfileStore): Promise<Profile[]> {
  const out: Profile[] = [];
  let batch: string[] = [];
  const flush = async () => {
    const loaded = await Promise.all(batch.map((id) => profiles.get(id)));
    for (const p of loaded) if (p) out.push(p);
    batch = [];
  };
  for await (const id of profiles.customerIds()) {
    if (isAnonymousCustomer(id)) continue;
    batch.push(id);
    if (batch.length >= 500) await flush();
  }
  await flush();
  return out;
}

/** Fits the churn artifacts and the recommender on the population as of nowMs; pure apart from the read. */
export function fitModels(population: Profile[], nowMs: number, definition: ChurnDefinition) {
  const histories: CustomerHistory[] = population.map(historyFromProfile);
  const recHistories: RecHistory[] = population.map(recHistoryFromProfile);
  return { churn: fitChurnArtifacts(histories, nowMs, definition), recommender: buildRecommender(recHistories) };
}
