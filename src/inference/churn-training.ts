/**
 * Builds churn training and scoring sets from customer histories without peeking at the
 * future: features as of a snapshot instant, labels from the horizon after it, BG/NBD
 * refitted on the population as of each snapshot, and the neighbour outcome rate from
 * customers whose outcome is known. Pure: histories in, rows out.
 */
import { DAY_MS, fitBgnbd, repeatSummary, type BgnbdParams } from "../../pipelines/bgnbd.ts";
import { churnFeatures, neighbourVector, type ChurnFeatures, type CustomerHistory } from "../../pipelines/churn-features.ts";
import { churnLabel, type ChurnDefinition, type TrainingRow } from "./churn-model.ts";
import { neighbourIndex, type NeighbourIndex, type NeighbourOptions } from "./churn-neighbours.ts";

export type SnapshotRow = { customerId: string; history: CustomerHistory; features: ChurnFeatures; label: number };
export type Snapshot = { asOfMs: number; bgnbd: BgnbdParams; rows: SnapshotRow[] };

/**
 * Where the neighbour outcome rate comes from: "leave-one-out" among this snapshot's own
 * labelled customers (training), a reference index of an earlier, labelled snapshot
 * (scoring), or a hook returning the rate for a customer (e.g. vector-memory neighbours).
 */
export type NeighbourSource =
  | { kind: "leave-one-out"; options?: NeighbourOptions }
  | { kind: "index"; index: NeighbourIndex }
  | { kind: "hook"; rate: (row: Omit<SnapshotRow, "label">) => number | undefined };

/**
 * Every customer with a purchase before `asOfMs`, with features as of then and (when
 * `labelled`) the churn label of [asOfMs, asOfMs + horizon). Unlabelled rows carry −1.
 */
export function buildSnapshot(
  histories: readonly CustomerHistory[],
  asOfMs: number,
  definition: ChurnDefinition,
  options: { labelled: boolean; neighbours: NeighbourSource; bgnbdStart?: BgnbdParams },
): Snapshot {
  const eligible = histories.filter((h) => h.purchases.some((p) => p.ts < asOfMs));
  const summaries = eligible.map((h) => repeatSummary(h.purchases.map((p) => p.ts), asOfMs)!);
  const { params: bgnbd } = fitBgnbd(summaries, options.bgnbdStart ? { starts: [startFrom(options.bgnbdStart)] } : {});
  const rows: SnapshotRow[] = eligible.map((history) => ({
    customerId: history.customerId,
    history,
    features: churnFeatures(history, asOfMs, { bgnbd, horizonDays: definition.horizonDays }),
    label: options.labelled ? churnLabel(history, asOfMs, definition) : -1,
  }));
  const source = options.neighbours;
  if (source.kind === "leave-one-out") {
    if (!options.labelled) throw new Error("leave-one-out neighbour rates need a labelled snapshot");
    const index = snapshotNeighbourIndex(rows, source.options);
    rows.forEach((r, i) => (r.features.values.neighbour_churn_rate = index.rate(neighbourVector(r.features.values), i)));
  } else if (source.kind === "index") {
    for (const r of rows) r.features.values.neighbour_churn_rate = source.index.rate(neighbourVector(r.features.values));
  } else {
    for (const r of rows) r.features.values.neighbour_churn_rate = source.rate(r) ?? r.features.values.neighbour_churn_rate;
  }
  return { asOfMs, bgnbd, rows };
}

/** Nelder-Mead start (log-parameters) at a previous fit, e.g. the neighbouring snapshot's. */
const startFrom = (p: BgnbdParams) => [p.r, p.alpha, p.a, p.b].map((v) => Math.log(Math.max(v, 1e-8)));

/**
 * A neighbour index over a labelled snapshot's customers: a deterministic stride sample of
 * at most `maxReference` of them (default 5000; the exact search is O(rows × reference)).
 * Leave-one-out still excludes the customer's own row when it is in the sample.
 */
export function snapshotNeighbourIndex(rows: readonly SnapshotRow[], options?: NeighbourOptions): NeighbourIndex {
  return neighbourIndex({ vectors: rows.map((r) => neighbourVector(r.features.values)), outcomes: rows.map((r) => r.label) }, options);
}

/**
 * Training rows for a model that will score at `scoreAtMs`: labelled snapshots at
 * scoreAtMs − H − k·step (k = 0..snapshots−1), so every label window closes by scoreAtMs.
 * Snapshots before anyone bought are skipped.
 */
export function buildTrainingSet(
  histories: readonly CustomerHistory[],
  scoreAtMs: number,
  definition: ChurnDefinition,
  options: { snapshots?: number; stepDays?: number; neighbours?: NeighbourOptions; minCustomers?: number } = {},
): { rows: TrainingRow[]; latest: Snapshot; snapshots: Snapshot[] } {
  const { snapshots = 1, stepDays = definition.horizonDays, minCustomers = 1 } = options;
  const built: Snapshot[] = [];
  for (let k = 0; k < snapshots; k++) {
    const asOfMs = scoreAtMs - (definition.horizonDays + k * stepDays) * DAY_MS;
    if (histories.filter((h) => h.purchases.some((p) => p.ts < asOfMs)).length < Math.max(1, minCustomers)) break;
    built.push(
      buildSnapshot(histories, asOfMs, definition, {
        labelled: true,
        neighbours: { kind: "leave-one-out", options: options.neighbours },
        bgnbdStart: built.at(-1)?.bgnbd,
      }),
    );
  }
  if (built.length === 0) throw new Error("no purchases before the first training snapshot");
  return {
    rows: built.flatMap((s) => s.rows.map(({ customerId, features, label }) => ({ customerId, features, label }))),
    latest: built[0]!,
    snapshots: built,
  };
}
