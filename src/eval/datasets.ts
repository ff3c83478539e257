/**
 * The data sets in ../shared/data that `bun run eval --dataset` knows: each is read by the
 * built-in import mapping of the same name (from its default input under the data root), with a
 * default cutoff and horizon. What happened after the cutoff is read through the mapping, like
 * any other input (mapped-history.ts).
 */
export const EVAL_DATASETS = ["cdnow", "online-retail", "taobao"] as const;
export type EvalDatasetName = (typeof EVAL_DATASETS)[number];

export type DatasetSpec = {
  name: EvalDatasetName;
  defaultCutoff: string;
  defaultHorizonDays: number;
  note: string;
  /** Recommendation baselines measured elsewhere on the default window, shown beside the report's. */
  reference?: Record<string, number>;
};

export const datasetSpecs: Record<EvalDatasetName, DatasetSpec> = {
  cdnow: {
    name: "cdnow",
    defaultCutoff: "1998-01-01",
    defaultHorizonDays: 182,
    note: "CDNOW master, all 23,570 customers (acquired Jan–Mar 1997). No item ids, so churn only.",
  },
  "online-retail": {
    name: "online-retail",
    defaultCutoff: "2011-09-11",
    defaultHorizonDays: 90,
    note: "UCI Online Retail, every registered customer; guest checkouts (anonymous, never evaluated or trained on) are left out of the import.",
    reference: { hrMostPopular: 0.311, hrCooccurrence: 0.429, ndcgMostPopular: 0.048, ndcgCooccurrence: 0.092 },
  },
  taobao: {
    name: "taobao",
    defaultCutoff: "2017-12-02T00:00:00+08:00",
    defaultHorizonDays: 2,
    note: "Taobao UserBehavior, all 814 users (pv → cart → buy); the last two days (China time) are the future.",
  },
};
