import { deserialiseRecommender, serialiseRecommender, type Recommender } from "../../pipelines/recommend";
import type { RedisClient } from "../redis/connection";
import type { Keyspace } from "../redis/keys";
import { CHURN_ARTIFACTS_FORMAT, churnArtifactsSchema, type ChurnArtifacts } from "./churn-artifacts";
import { modelSlot, type ModelFormat } from "./model-store";
import type { RecommenderChoice } from "./recommender-choice";
import type { RefitSummary } from "./refit";
import type { DataStats, FitMeta } from "./refit-policy";

const churnFormat: ModelFormat<ChurnArtifacts> = {
  parse: (text) => churnArtifactsSchema.parse(JSON.parse(text)),
  serialise: (m) => JSON.stringify(m),
  version: (m) => `${m.version}@${m.trainedAt}`,
};
const recommenderFormat: ModelFormat<Recommender> = {
  parse: deserialiseRecommender,
  serialise: serialiseRecommender,
  version: (m) => `recs-${m.builtAtMs}-${m.itemIds.length}-${m.customerIds.length}`,
};

/** What GET /admin/models shows of the churn model, and the refit policy reads. */
export type ChurnMeta = FitMeta & {
  version: string;
  fittedAt: string;
  /** The instant it was fitted as of. */
  asOf: string;
  mode: "learned" | "bgnbd";
  customers: number;
  purchases: number;
  trainingRows: number;
  validation: { rows: number; auc: number; churnRate: number } | null;
  choice: ChurnArtifacts["choice"] | null;
  reference: ChurnArtifacts["reference"]["kind"];
  signals: ChurnArtifacts["signals"]["effects"];
  note?: string;
};
export type RecommenderMeta = {
  version: string;
  fittedAt: string;
  builtAt: string;
  items: number;
  customers: number;
  /** Whether customers buy this catalogue again (then insights carry a buy-again list). */
  rebuy: { repeatShare: number; isRebought: boolean };
  choice: RecommenderChoice | null;
  note?: string;
};
export type ModelsMeta = { churn?: ChurnMeta; recommender?: RecommenderMeta; lastRefit?: RefitSummary };

/** Where the fitted churn artifacts and recommender live in Redis, how they are written, and what is known of each fit. */
export function modelSlots(redis: RedisClient, keys: Keyspace) {
  const churn = modelSlot<ChurnArtifacts>(redis, keys.churnArtifacts(), keys.churnArtifactsVersion(), churnFormat);
  const recommender = modelSlot<Recommender>(redis, keys.recommender(), keys.recommenderVersion(), recommenderFormat);
  return {
    churn,
    recommender: { ...recommender, versionOf: recommenderFormat.version },
    /** Both models and their metadata. */
    async save(
      fitted: { churn: ChurnArtifacts; recommender: Recommender; recommenderChoice?: RecommenderChoice; recommenderNote?: string },
      fit: { fittedAtMs: number; stats: DataStats; summary: RefitSummary },
    ) {
      const a = fitted.churn;
      const fittedAt = new Date(fit.fittedAtMs).toISOString();
      const churnMeta: ChurnMeta = {
        format: CHURN_ARTIFACTS_FORMAT,
        fittedAtMs: fit.fittedAtMs,
        stats: fit.stats,
        learned: Boolean(a.model),
        version: a.version,
        fittedAt,
        asOf: a.trainedAt,
        mode: a.model ? "learned" : "bgnbd",
        customers: a.customers,
        purchases: a.purchases,
        trainingRows: a.trainingRows,
        validation: a.model?.validation ?? null,
        choice: a.choice ?? null,
        reference: a.reference.kind,
        signals: a.signals.effects,
        ...(a.note ? { note: a.note } : {}),
      };
      const r = fitted.recommender;
      const recommenderMeta: RecommenderMeta = {
        version: recommenderFormat.version(r),
        fittedAt,
        builtAt: new Date(r.builtAtMs).toISOString(),
        items: r.itemIds.length,
        customers: r.customerIds.length,
        rebuy: { repeatShare: Math.round(r.rebuy.repeatShare * 1000) / 1000, isRebought: r.rebuy.isRebought },
        choice: fitted.recommenderChoice ?? null,
        ...(fitted.recommenderNote ? { note: fitted.recommenderNote } : {}),
      };
      await churn.save(a);
      await recommender.save(r);
      await redis.hset(keys.modelsMeta(), "churn", JSON.stringify(churnMeta), "recommender", JSON.stringify(recommenderMeta), "lastRefit", JSON.stringify(fit.summary));
    },
    async meta(): Promise<ModelsMeta> {
      const [c, r, last] = await redis.hmget(keys.modelsMeta(), "churn", "recommender", "lastRefit");
      return {
        ...(c ? { churn: JSON.parse(c) as ChurnMeta } : {}),
        ...(r ? { recommender: JSON.parse(r) as RecommenderMeta } : {}),
        ...(last ? { lastRefit: JSON.parse(last) as RefitSummary } : {}),
      };
    },
  };
}
