/**
 * The data sets `bun run eval` knows: where the raw files are, which built-in import mapping
 * feeds them to Lifeline, the default cutoff / horizon / sample, and how to read what really
 * happened (the bench loaders are the protocol's one reading of the raw files).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadCdnow } from "./loaders/load-cdnow";
import { loadOnlineRetail, parseCsvLine } from "./loaders/load-online-retail";
import { loadRetailItemHistories } from "./loaders/load-retail-items";
import { loadTaobaoHistories } from "./loaders/load-taobao";
import type { CustomerHistory } from "../../pipelines/churn-features";
import type { RecHistory, RecKind } from "../../pipelines/recommend";

export const EVAL_DATASETS = ["cdnow", "online-retail", "taobao"] as const;
export type EvalDatasetName = (typeof EVAL_DATASETS)[number];

/** What happened, per raw customer id (no Lifeline prefix), over the whole file. */
export type RawData = { churn: CustomerHistory[]; recs?: RecHistory[] };

export type DatasetSpec = {
  name: EvalDatasetName;
  /** built-in import mapping */
  mapping: string;
  /** under the data root */
  input: string;
  /** Lifeline customer id = prefix + raw id (src/import/builtin-mappings.ts) */
  prefix: string;
  defaultCutoff: string;
  defaultHorizonDays: number;
  /** customers evaluated by default (deterministic hash sample); undefined = all (each data set here runs whole within minutes) */
  defaultSample?: number;
  note: string;
  load(dataRoot: string): Promise<RawData>;
  /** Recommendations: who is evaluated and which events the co-occurrence baseline counts. */
  recs?: { needsPurchaseBefore: boolean; cooccurrenceKinds: readonly RecKind[] };
  /** Copies the input keeping only the sampled customers' rows; returns the files to import. */
  writeSample(dataRoot: string, keep: ReadonlySet<string>, outDir: string): string[];
};

/** Keeps the lines whose customer (by `idOf`) is sampled, and a header line when there is one. */
function filterLines(text: string, keep: ReadonlySet<string>, idOf: (line: string) => string | undefined, hasHeader: boolean): string {
  const lines = text.split("\n");
  const out = hasHeader ? [lines[0]!] : [];
  for (const line of lines.slice(hasHeader ? 1 : 0)) {
    const id = line && idOf(line);
    if (id && keep.has(id)) out.push(line);
  }
  return out.join("\n") + "\n";
}

const firstField = (separator: RegExp) => (line: string) => line.trim().split(separator)[0];

const taobaoChurnHistories = (recs: RecHistory[]): CustomerHistory[] =>
  recs.map((h) => {
    const purchases = h.events.filter((e) => e.kind === "purchase").map((e, i) => ({ ts: e.ts, amount: 0, messageId: `${h.customerId}-${i}` }));
    return { customerId: h.customerId, firstSeenMs: h.events[0]?.ts ?? 0, purchases, events: [] };
  });

export const datasetSpecs: Record<EvalDatasetName, DatasetSpec> = {
  cdnow: {
    name: "cdnow",
    mapping: "cdnow",
    input: "cdnow/CDNOW_master.txt",
    prefix: "cdnow-",
    defaultCutoff: "1997-12-31",
    defaultHorizonDays: 182,
    note: "CDNOW master, all 23,570 customers (acquired Jan–Mar 1997). No item ids, so churn only.",
    async load(root) {
      return { churn: await loadCdnow(join(root, this.input)) };
    },
    writeSample(root, keep, outDir) {
      const file = join(outDir, "CDNOW_master.txt");
      writeFileSync(file, filterLines(readFileSync(join(root, this.input), "utf8"), keep, firstField(/\s+/), true));
      return [file];
    },
  },
  "online-retail": {
    name: "online-retail",
    mapping: "online-retail",
    input: "online-retail/by-day",
    prefix: "retail-",
    defaultCutoff: "2011-09-10",
    defaultHorizonDays: 90,
    note: "UCI Online Retail, every registered customer; guest checkouts (anonymous, never evaluated or trained on) are left out of the import.",
    async load(root) {
      const dir = join(root, this.input);
      return { churn: await loadOnlineRetail(dir), recs: await loadRetailItemHistories(dir) };
    },
    recs: { needsPurchaseBefore: true, cooccurrenceKinds: ["purchase"] },
    writeSample(root, keep, outDir) {
      const dir = join(root, this.input);
      mkdirSync(outDir, { recursive: true });
      const customerOf = (line: string) => parseCsvLine(line)[6]?.replace(/\.0$/, "");
      return readdirSync(dir)
        .filter((f) => f.endsWith(".csv"))
        .sort()
        .map((f) => {
          const file = join(outDir, f);
          writeFileSync(file, filterLines(readFileSync(join(dir, f), "utf8"), keep, customerOf, true));
          return file;
        });
    },
  },
  taobao: {
    name: "taobao",
    mapping: "taobao",
    input: "taobao-userbehavior/UserBehavior_814users.csv",
    prefix: "taobao-",
    defaultCutoff: "2017-12-02T00:00:00+08:00",
    defaultHorizonDays: 2,
    note: "Taobao UserBehavior, all 814 users (pv → cart → buy); the last two days (China time) are the future.",
    async load(root) {
      const recs = await loadTaobaoHistories(join(root, this.input));
      return { churn: taobaoChurnHistories(recs), recs };
    },
    recs: { needsPurchaseBefore: false, cooccurrenceKinds: ["view", "cart", "wishlist", "purchase"] },
    writeSample(root, keep, outDir) {
      const file = join(outDir, "UserBehavior_814users.csv");
      writeFileSync(file, filterLines(readFileSync(join(root, this.input), "utf8"), keep, firstField(/,/), false));
      return [file];
    },
  },
};

/**
 * The cutoff instant: a bare date means the end of that day (UTC), so purchases on the cutoff
 * day are history (the churn protocol); a full ISO time is taken as is.
 */
export function cutoffInstant(cutoff: string): number {
  const isDay = /^\d{4}-\d{2}-\d{2}$/.test(cutoff);
  const ms = Date.parse(isDay ? `${cutoff}T00:00:00Z` : cutoff);
  if (Number.isNaN(ms)) throw new Error(`--cutoff ${cutoff}: not a date (use YYYY-MM-DD or an ISO-8601 time)`);
  return isDay ? ms + 86_400_000 : ms;
}

/** A deterministic sample: the n eligible ids with the smallest hash (all when n is absent or larger). */
export function sampleIds(ids: readonly string[], n: number | undefined): Set<string> {
  if (n === undefined || n >= ids.length) return new Set(ids);
  const hashed = ids.map((id) => ({ id, h: Bun.hash(`lifeline-eval:${id}`) }));
  hashed.sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
  return new Set(hashed.slice(0, n).map((x) => x.id));
}
