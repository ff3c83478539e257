import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import type { Browser } from "playwright-core";
import { startApi, type RunningApi } from "../../src/api/server";
import { createLogger } from "../../src/log/logger";
import { hasChromium, launchChromium, CHROMIUM } from "../support/browser";
import { startRedis, type TestRedis } from "../support/redis-server";
import { testConfig } from "../support/test-config";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

if (!hasChromium) console.warn(`SKIPPED docs browser test: ${CHROMIUM} is missing; install it with \`apt-get install -y chromium\``);

describe.skipIf(!hasChromium)("/docs in a real browser with the network blocked", () => {
  let redis: TestRedis;
  let api: RunningApi;
  let browser: Browser;
  let base: string;

  beforeAll(async () => {
    redis = await startRedis();
    const config = testConfig(redis.url, { HOST: "127.0.0.1" });
    api = await startApi(config, createLogger(config));
    base = `http://127.0.0.1:${api.port}`;
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await api?.stop();
    await redis?.stop();
  });

  test("the reference UI renders every route from files the API serves itself", async () => {
    const context = await browser.newContext();
    // Behind a firewall: every request that is not to the API fails, and is recorded.
    const blocked: string[] = [];
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      if (url.origin === base) return route.continue();
      blocked.push(url.href);
      return route.abort("internetdisconnected");
    });
    const page = await context.newPage();
    const res = await page.goto(`${base}/docs`);
    expect(res?.status()).toBe(200);
    // Swagger UI draws one block per operation once it has fetched and read /docs/json.
    await page.locator(".opblock-summary-path", { hasText: "/v1/track" }).first().waitFor({ timeout: 30_000 });
    expect(await page.locator(".info .title").first().textContent()).toContain("Lifeline API");
    const paths = await page.locator(".opblock-summary-path").allTextContents();
    for (const path of ["/events", "/v1/batch", "/clients/{id}", "/health"]) expect(paths.map((p) => p.replace(/\u200b/g, "").trim())).toContain(path);
    // The UI's stylesheet applied (not a bare page of unstyled text).
    expect(await page.locator(".swagger-ui").first().evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { fontFamily: string } }).getComputedStyle(el).fontFamily)).toContain("sans-serif");
    expect(blocked).toEqual([]);
    await context.close();
  }, 60_000);

  test("an asset that is not part of the UI is a 404", async () => {
    const html = await (await fetch(`${base}/docs`)).text();
    const script = /<script src="([^"]+swagger-ui-bundle\.js)"/.exec(html)?.[1];
    expect(script).toMatch(/^\/docs\/assets\/\d+\.\d+\.\d+\/swagger-ui-bundle\.js$/);
    expect((await fetch(`${base}${script}`)).status).toBe(200);
    expect((await fetch(`${base}${script!.replace("swagger-ui-bundle.js", "package.json")}`)).status).toBe(404);
  });
});
