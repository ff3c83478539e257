import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cutoffInstant, evalRuns, strayArgument, type EvalArgs } from "../../src/eval/eval-args";
import { EvalUsageError } from "../../src/eval/eval-usage-error";

const FIXTURE = join(import.meta.dir, "..", "fixtures", "eval");
const CSV = join(FIXTURE, "shop-history.csv");
const MAPPING = join(FIXTURE, "shop-history.mapping.json");
const root = mkdtempSync(join(tmpdir(), "lifeline-eval-args-"));
mkdirSync(join(root, "cdnow"));
writeFileSync(join(root, "cdnow", "CDNOW_master.txt"), "");
mkdirSync(join(root, "empty"));
writeFileSync(join(root, "bad.mapping.json"), JSON.stringify({ name: "bad", format: "csv" }));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const own: EvalArgs = { input: CSV, mapping: MAPPING, cutoff: "2024-04-01", "horizon-days": "30" };

describe("cutoff", () => {
  test("a bare date is the start of that day, UTC (as import --until reads it)", () => expect(cutoffInstant("2011-09-11")).toBe(Date.parse("2011-09-11T00:00:00Z")));
  test("an ISO time keeps its offset", () => expect(cutoffInstant("2017-12-02T00:00:00+08:00")).toBe(Date.parse("2017-12-01T16:00:00Z")));
  test("an ISO time without an offset is UTC", () => expect(cutoffInstant("2024-04-01T06:30")).toBe(Date.parse("2024-04-01T06:30:00Z")));
});

describe("evalRuns", () => {
  test("--input with a mapping file: one run named after the mapping, over the input's files", () => {
    const [run, ...rest] = evalRuns(own, root);
    expect(rest).toEqual([]);
    expect(run).toMatchObject({ name: "shop-history", input: CSV, files: [CSV], cutoff: "2024-04-01", cutoffMs: Date.parse("2024-04-01T00:00:00Z"), horizonDays: 30 });
    expect(run!.mapping.name).toBe("shop-history");
    expect(run!.sample).toBeUndefined();
  });

  test("--name names the run; --sample 0 means all", () => expect(evalRuns({ ...own, name: "my-shop", sample: "0" }, root)[0]).toMatchObject({ name: "my-shop", sample: undefined }));

  test("a built-in mapping name on its own data set keeps that data set's window", () =>
    expect(evalRuns({ mapping: "cdnow" }, root)[0]).toMatchObject({ name: "cdnow", cutoff: "1998-01-01", horizonDays: 182, input: join(root, "cdnow/CDNOW_master.txt") }));

  test("--dataset takes each built-in data set's default window, the same days as before the cutoff became the start of its day", () => {
    const [run] = evalRuns({ dataset: "cdnow" }, root);
    // The old default, 1997-12-31 read as the end of that day.
    expect(run).toMatchObject({ name: "cdnow", cutoffMs: Date.parse("1998-01-01T00:00:00Z"), horizonDays: 182 });
  });

  const mistakes: { args: EvalArgs; message: string }[] = [
    { args: { input: CSV }, message: "--mapping is missing: --input " },
    { args: { ...own, mapping: join(root, "nope.json") }, message: "no such mapping file, nor a built-in mapping (cdnow, online-retail, taobao)" },
    { args: { ...own, mapping: join(root, "bad.mapping.json") }, message: `--mapping ${join(root, "bad.mapping.json")}: fix the mapping file` },
    { args: { ...own, input: join(root, "missing.csv") }, message: "missing.csv: no such file or folder" },
    { args: { ...own, input: join(root, "empty") }, message: "no input files there (mapping shop-history reads files ending .csv)" },
    { args: { ...own, cutoff: undefined }, message: "--cutoff is missing: give the instant that splits history from the future" },
    { args: { ...own, cutoff: "2024-02-30" }, message: "--cutoff 2024-02-30: not a date; use YYYY-MM-DD" },
    { args: { ...own, "horizon-days": undefined }, message: "--horizon-days is missing" },
    { args: { ...own, "horizon-days": "0" }, message: "--horizon-days 0: expected a whole number > 0, e.g. --horizon-days 90" },
    { args: { ...own, "horizon-days": "ninety" }, message: "--horizon-days ninety: expected a whole number > 0" },
    { args: { ...own, sample: "-1" }, message: "--sample -1: expected a whole number ≥ 0" },
    { args: { ...own, name: "../x" }, message: "--name ../x: use letters, digits, _ . - only" },
    { args: { ...own, dataset: "cdnow" }, message: "--dataset cannot be combined with --input/--mapping" },
    { args: { dataset: "grocery" }, message: "--dataset grocery: expected cdnow, online-retail, taobao or all" },
    { args: { cutoff: "2011-01-01" }, message: "--cutoff applies to one data set: add --dataset" },
    { args: { dataset: "online-retail" }, message: `--dataset online-retail: no data at ${join(root, "online-retail/by-day")}; point --data-root` },
  ];
  for (const { args, message } of mistakes)
    test(`${JSON.stringify(args).replaceAll(root, "…").replaceAll(FIXTURE, "…")} → ${message.replaceAll(root, "…")}`, () => {
      let error: unknown;
      try {
        evalRuns(args, root);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(EvalUsageError);
      expect((error as Error).message).toContain(message);
    });
});

describe("strayArgument", () => {
  const known = ["input", "cutoff", "horizon-days"];
  test("known flags with values in either form pass", () => expect(strayArgument(["--input", "a.csv", "--cutoff=2024-01-01", "--horizon-days", "3"], known)).toBeUndefined());
  test("an unknown flag is named", () => expect(strayArgument(["--input", "a.csv", "--horizon", "3"], known)).toBe("unknown flag --horizon: run `bun run eval --help` for the flags"));
  test("a bare argument is named", () => expect(strayArgument(["a.csv"], known)).toBe("unexpected argument a.csv: every input is a flag, e.g. --input a.csv"));
});
