import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { sharedDataDir } from "../../scripts/lib/shared-data";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { evalRuns } from "../../src/eval/eval-args";
import { figureCells, formatFigure, type EvalReport } from "../../src/eval/eval-report";
import { reportHtml } from "../../src/eval/report-html";
import { evaluate } from "../../src/eval/run-eval";
import { createLogger } from "../../src/log/logger";
import { startRedis, type TestRedis } from "../support/redis-server";
import { TEST_MODEL_CACHE_DIR } from "../support/test-config";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

const CHROMIUM = "/usr/bin/chromium";
const DATA_ROOT = sharedDataDir();
const RESULTS = join(import.meta.dir, "..", "..", "bench", "results");
const hasChromium = existsSync(CHROMIUM);
const hasData = existsSync(join(DATA_ROOT, "cdnow", "CDNOW_master.txt"));
if (!hasChromium) console.warn(`SKIPPED eval report browser test: ${CHROMIUM} is missing; install it with \`apt-get install -y chromium\``);
if (!hasData) console.warn(`SKIPPED eval report browser test: ${DATA_ROOT} has no CDNOW data`);

const artifacts = process.env.LIFELINE_TEST_ARTIFACTS ?? join(import.meta.dir, "..", "..", "test-artifacts");

/** The report as the browser rendered it: the charts' lines and every figure cell. */
async function checkRendered(page: Page, report: EvalReport) {
  for (const id of ["roc", "calibration", "gains"]) {
    const lines = page.locator(`svg#${id} polyline.series`);
    expect(await lines.count()).toBe(report.churn.models.length);
    for (let i = 0; i < report.churn.models.length; i++) {
      expect(((await lines.nth(i).getAttribute("points")) ?? "").split(" ").length).toBeGreaterThan(1);
      const box = await lines.nth(i).boundingBox();
      // Drawn, not empty: a calibration line may be narrow (predictions bunched), never a dot.
      expect(box!.width + box!.height).toBeGreaterThan(10);
    }
  }
  if (report.predictions) {
    const curves = page.locator("svg#repeat-curve polyline.series");
    expect(await curves.count()).toBe(4);
    for (let i = 0; i < 4; i++) expect((await curves.nth(i).boundingBox())!.width).toBeGreaterThan(100);
  }
  for (const { key, value } of figureCells(report)) {
    const cell = page.locator(`td[data-metric="${key}"]`);
    expect(await cell.count()).toBe(1);
    const shown = Number(await cell.getAttribute("data-value"));
    if (Number.isFinite(value)) expect(shown).toBe(value);
    else expect(shown).toBeNaN();
    expect((await cell.textContent())?.trim()).toBe(formatFigure(value));
  }
  expect(await page.locator("article.example").count()).toBe(report.examples.length);
}

describe.skipIf(!hasChromium || !hasData)("eval report in a real browser", () => {
  let redis: TestRedis;
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    redis = await startRedis();
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    dir = mkdtempSync(join(tmpdir(), "lifeline-eval-report-"));
    mkdirSync(artifacts, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a report from a real run (CDNOW, 400 customers, through the running system) renders its charts and its table matches the JSON", async () => {
    const [run] = evalRuns({ dataset: "cdnow", sample: "400" }, DATA_ROOT);
    const report = await evaluate(run!, {
      redisUrl: redis.url,
      log: createLogger({ LOG_LEVEL: "silent" }),
      env: { LIFELINE_MODEL_CACHE_DIR: TEST_MODEL_CACHE_DIR, LIFELINE_LOCAL_VOCAB_SIZE: "30000" },
    });
    expect(report.churn.customers).toBe(400);
    expect(report.predictions?.customers).toBe(400);
    expect(report.system.missing).toBe(0);
    writeFileSync(join(dir, "eval-cdnow.json"), JSON.stringify(report));
    writeFileSync(join(dir, "eval-cdnow.html"), reportHtml(report));

    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const external: string[] = [];
    page.on("request", (r) => void (r.url().startsWith("file://") || external.push(r.url())));
    await page.goto(`file://${join(dir, "eval-cdnow.html")}`);
    await checkRendered(page, JSON.parse(readFileSync(join(dir, "eval-cdnow.json"), "utf8")) as EvalReport);
    expect(external).toEqual([]);
    await page.screenshot({ path: join(artifacts, "eval-report-cdnow-sample.png"), fullPage: true });
    await page.close();
  }, 120_000);

  for (const name of ["cdnow", "online-retail", "taobao"])
    test.skipIf(!existsSync(join(RESULTS, `eval-${name}.html`)))(`the committed ${name} report renders its charts and matches its JSON`, async () => {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      await page.goto(`file://${join(RESULTS, `eval-${name}.html`)}`);
      await checkRendered(page, JSON.parse(readFileSync(join(RESULTS, `eval-${name}.json`), "utf8")) as EvalReport);
      await page.screenshot({ path: join(artifacts, `eval-report-${name}.png`), fullPage: true });
      await page.close();
    }, 60_000);
});
