import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { startFakeQdrant, type FakeQdrant } from "../support/fake-qdrant";
import { startRedis, type TestRedis } from "../support/redis-server";
import { testEnv } from "../support/test-config";

const root = join(import.meta.dir, "..", "..");
let redis: TestRedis;
let old: FakeQdrant;

beforeAll(async () => {
  redis = await startRedis();
  old = startFakeQdrant({ version: "1.13.4" });
});
afterAll(async () => {
  old.stop();
  await redis.stop();
});

const entries = [
  ["npm start's process", "src/main.ts"],
  ["the API alone", "src/api/server.ts"],
  ["a worker alone", "queues/run.ts"],
] as const;

for (const [what, entry] of entries)
  test(`${what} (${entry}) stops at start with QDRANT_URL on a Qdrant 1.13.4, naming that version and the minimum`, async () => {
    const proc = Bun.spawn([process.execPath, join(root, entry)], {
      cwd: root,
      env: { ...process.env, ...testEnv(redis.url, { QDRANT_URL: old.url, LOG_LEVEL: "info", LIFELINE_WORKER_PROCESSES: "1" }) },
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => proc.kill(), 60_000);
    const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    clearTimeout(timer);
    expect(code).toBe(1);
    expect(out + err).toContain(`Qdrant at ${old.url} reports version 1.13.4; Lifeline needs Qdrant 1.16.0 or newer`);
    // Nothing was created on the old server: the version was the first and only question.
    expect(old.requests.filter((r) => r.path !== "/")).toEqual([]);
  }, 90_000);
