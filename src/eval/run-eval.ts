/**
 * `bun run eval` for one input: read what every customer did through the mapping, import the
 * history before the cutoff through the running system, score every customer through the real
 * inference path as of the cutoff, and compare with what the same mapped events say happened
 * after it, beside baselines fitted in the same run on the same history.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../log/logger";
import { churnSection } from "./churn-section";
import type { EvalRun } from "./eval-args";
import type { EvalContext } from "./eval-context";
import type { EvalReport } from "./eval-report";
import { checkEvaluable, evalPopulation, evalTruth, sampleIds } from "./eval-truth";
import { examplesSection } from "./examples-section";
import { readMappedHistories } from "./mapped-history";
import { predictionsSection } from "./predictions-section";
import { recsSection } from "./recs-section";
import { evalConfig, runThroughSystem } from "./system-run";

export type EvalEnvironment = {
  redisUrl: string;
  log: Logger;
  /** Settings passed through to the system (embedding provider, model cache, LOG_LEVEL=debug, …). */
  env?: Record<string, string | undefined>;
};

export async function evaluate(run: EvalRun, o: EvalEnvironment): Promise<EvalReport> {
  const started = performance.now();
  const log = o.log.child({ eval: run.name });
  const scratch = mkdtempSync(join(tmpdir(), "lifeline-eval-"));
  try {
    const config = evalConfig(o.redisUrl, run.horizonDays, join(scratch, "system"), o.env);
    const limits = { maxEventBytes: config.LIFELINE_MAX_EVENT_BYTES, futureToleranceMs: config.LIFELINE_FUTURE_TOLERANCE_HOURS * 3_600_000 };
    const histories = await readMappedHistories(run.mapping, run.files, limits, join(scratch, "mapping-rejects.jsonl"));
    const population = evalPopulation(histories, run.cutoffMs);
    const warnings = checkEvaluable(histories, population, run);
    for (const warning of warnings) log.warn(warning);
    const keep = sampleIds(population.eligible, run.sample);
    const truth = evalTruth(histories, keep, run.cutoffMs, run.horizonDays);
    log.info({ events: histories.events, eligible: population.eligible.length, sampled: keep.size }, "data read");

    const system = await runThroughSystem({
      config,
      mapping: run.mapping,
      files: run.files,
      cutoffMs: run.cutoffMs,
      keep: (event) => keep.has(histories.customerOf(event)),
      customerIds: [...keep],
      log,
      isVerbose: o.env?.LOG_LEVEL === "debug",
    });
    log.info({ ...system.seconds, missing: system.missing.length }, "scored through the system");
    const ctx: EvalContext = { run, truth, system, insightOf: (id) => system.insights.get(id) };

    return {
      dataset: run.name,
      note: run.note,
      generatedAt: new Date().toISOString(),
      mapping: run.mapping.name,
      input: run.input,
      cutoff: run.cutoff,
      cutoffIso: new Date(run.cutoffMs).toISOString(),
      horizonDays: run.horizonDays,
      data: {
        files: run.files.length,
        events: histories.events,
        unusable: histories.unusable,
        orders: histories.orders,
        firstEventIso: new Date(histories.firstEventMs).toISOString(),
        lastEventIso: new Date(histories.lastEventMs).toISOString(),
        evaluates: population.isAnonymous ? "anonymous visitors" : "identified customers",
      },
      warnings,
      sample: { requested: run.sample ?? null, eligible: population.eligible.length, customers: keep.size },
      system: {
        imported: pick(system.import, ["rows", "events", "accepted", "duplicates", "rejected", "skipped"]),
        profiles: system.profiles,
        missing: system.missing.length,
        model: system.model,
        seconds: system.seconds,
      },
      // One line per section: a new section adds its field to EvalReport and its line here.
      ...churnSection(ctx),
      ...predictionsSection(ctx),
      ...recsSection(ctx),
      ...examplesSection(ctx),
      runtimeSeconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function pick<T extends Record<string, unknown>, K extends keyof T>(o: T, keys: K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((k) => [k, o[k]])) as Pick<T, K>;
}
