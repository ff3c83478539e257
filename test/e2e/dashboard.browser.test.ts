import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { startApi, type RunningApi } from "../../src/api/server";
import type { Config } from "../../src/config";
import { createLogger } from "../../src/log/logger";
import { startWorkers, type WorkerRuntime } from "../../queues/worker-runtime";
import { startRedis, type TestRedis } from "../support/redis-server";
import { TEST_KEYS, testConfig } from "../support/test-config";
import { waitFor } from "../support/wait-for";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`SKIPPED dashboard browser test: ${CHROMIUM} is missing; install it with \`apt-get install -y chromium\` (npm test does this when run as root)`);

const artifacts = process.env.LIFELINE_TEST_ARTIFACTS ?? join(import.meta.dir, "..", "..", "test-artifacts");

let redis: TestRedis;
let config: Config;
let api: RunningApi;
let workers: WorkerRuntime;
let browser: Browser;
let base: string;

describe.skipIf(!hasChromium)("queue dashboard in a real browser", () => {
  beforeAll(async () => {
    redis = await startRedis();
    config = testConfig(redis.url, { LIFELINE_JOB_ATTEMPTS: "1", LIFELINE_JOB_BACKOFF_MS: "50" });
    api = await startApi(config, createLogger(config));
    base = `http://127.0.0.1:${api.port}`;
    workers = await startWorkers(config, createLogger(config));
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    mkdirSync(artifacts, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await workers?.stop();
    await api?.stop();
    await redis?.stop();
  });

  test("without the admin key the dashboard is refused with 401", async () => {
    const page = await browser.newPage();
    const response = page.waitForResponse((r) => new URL(r.url()).pathname === "/admin/queues");
    // The 401 carries a Basic challenge; headless Chromium has no one to ask and gives up on it.
    await page.goto(`${base}/admin/queues`).catch(() => undefined);
    const res = await response;
    expect(res.status()).toBe(401);
    expect(res.headers()["www-authenticate"]).toContain("Basic");
    expect(await res.text()).not.toContain("bull-board");
    await page.close();
  });

  test("an ops person logs in, sees every Lifeline queue, and finds a poison event in the dead-letter queue", async () => {
    // A producer wrote garbage straight to a stream: the clean stage fails it and dead-letters it.
    const partition = 0;
    await workers.redis.xadd(workers.keys.stream(partition), "*", "m", "poison-browser", "e", "{not json");
    await waitFor(async () => (await workers.queues.deadLetter.getJobCounts("waiting")).waiting || undefined, 30_000, "a dead letter");

    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${base}/admin/login`);
    await page.fill("#key", TEST_KEYS.admin);
    await Promise.all([page.waitForURL(/\/admin\/queues/), page.click("button[type=submit]")]);
    for (const name of ["clean", "embed", "inference", "dead-letter"]) await page.getByRole("link", { name, exact: true }).first().waitFor({ timeout: 20_000 });

    await page.goto(`${base}/admin/queues/queue/dead-letter?status=waiting`);
    await page.getByText("clean/event").first().waitFor({ timeout: 20_000 });
    expect(await page.content()).toContain("clean/event");
    await page.screenshot({ path: join(artifacts, "dashboard-dead-letter.png"), fullPage: true });
    await context.close();
  });

  test("Basic auth with the admin key also opens the dashboard; a read key is refused", async () => {
    const ok = await browser.newContext({ httpCredentials: { username: TEST_KEYS.admin, password: "" } });
    const page = await ok.newPage();
    expect((await page.goto(`${base}/admin/queues`))!.status()).toBe(200);
    await ok.close();
    const wrong = await browser.newContext({ httpCredentials: { username: TEST_KEYS.read, password: "" } });
    const refused = await wrong.newPage();
    expect((await refused.goto(`${base}/admin/queues`))!.status()).toBe(403);
    await wrong.close();
  });
});
