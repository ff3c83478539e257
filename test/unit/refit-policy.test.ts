import { describe, expect, test } from "bun:test";
import { refitReason, type FitMeta } from "../../src/inference/refit-policy";

const policy = { format: 2, growth: 0.2, intervalMs: 6 * 3_600_000, minIntervalMs: 30_000 };
const NOW = 1_000_000_000;
const fitted = (over: Partial<FitMeta> = {}): FitMeta => ({ format: 2, fittedAtMs: NOW - 60_000, stats: { customers: 100, purchases: 1000 }, learned: true, ...over });

const cases = [
  { name: "nothing fitted and no data yet: wait", meta: undefined, stats: { customers: 0, purchases: 0 }, want: undefined },
  { name: "nothing fitted, data has arrived", meta: undefined, stats: { customers: 1, purchases: 0 }, want: /no model fitted yet/ },
  { name: "stored in an older format", meta: fitted({ format: 1 }), stats: { customers: 100, purchases: 1000 }, want: /format 1/ },
  { name: "older than the interval", meta: fitted({ fittedAtMs: NOW - 7 * 3_600_000 }), stats: { customers: 100, purchases: 1000 }, want: /older than LIFELINE_REFIT_INTERVAL_MS/ },
  { name: "purchases grew by a fifth", meta: fitted(), stats: { customers: 100, purchases: 1200 }, want: /purchases grew from 1000 to 1200/ },
  { name: "purchases grew by less than a fifth", meta: fitted(), stats: { customers: 110, purchases: 1199 }, want: undefined },
  { name: "customers grew by a fifth", meta: fitted(), stats: { customers: 120, purchases: 1000 }, want: /customers grew from 100 to 120/ },
  { name: "a fifth of very little is not enough", meta: fitted({ stats: { customers: 5, purchases: 5 } }), stats: { customers: 6, purchases: 8 }, want: undefined },
  { name: "last fit had too little data and more arrived", meta: fitted({ learned: false }), stats: { customers: 100, purchases: 1001 }, want: /too little labelled history/ },
  { name: "grew, but the last fit was moments ago", meta: fitted({ fittedAtMs: NOW - 1_000 }), stats: { customers: 200, purchases: 5000 }, want: undefined },
] as const;

describe("refit policy", () => {
  for (const c of cases)
    test(c.name, () => {
      const reason = refitReason(c.meta, c.stats, NOW, policy);
      if (c.want === undefined) expect(reason).toBeUndefined();
      else expect(reason).toMatch(c.want);
    });
});
