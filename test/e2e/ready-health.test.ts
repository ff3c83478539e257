import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { loadConfig } from "../../src/config";
import { startApiProcess } from "../support/api-process";
import { ingestHarness } from "../support/ingest-harness";
import { startRedis, type TestRedis } from "../support/redis-server";
import { TEST_KEYS, testEnv } from "../support/test-config";
import { waitFor } from "../support/wait-for";
import { spawnWorker } from "../support/worker-process";

// Issue 14.4: /ready tells the truth about workers and dead letters; a worker with settings that
// cannot work stops `npm start` with its message instead of restarting forever.
let redis: TestRedis;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

const unusableEmbedding = { EMBEDDINGS_PROVIDER: "openai", OPENAI_BASE_URL: "http://127.0.0.1:9/v1", LIFELINE_EMBEDDING_MODEL: "my-model" };

test("a worker with an unusable embedding setting exits 78 with one line naming the setting; /ready says a worker cannot start", async () => {
  const env = testEnv(redis.url, unusableEmbedding);
  const api = await startApiProcess(env);
  try {
    const worker = spawnWorker(env);
    expect(await worker.proc.exited).toBe(78);
    await worker.started.catch(() => undefined);
    const said = worker.lines.join("\n");
    expect(said).toContain("lifeline worker: fix these settings:\n  LIFELINE_EMBEDDING_DIMENSIONS: required for model my-model");
    const ready = (await (await fetch(`${api.url}/ready`)).json()) as any;
    expect(ready.status).toBe("degraded");
    expect(ready.failing).toEqual(["workers"]);
    expect(ready.checks.workers).toContain("a worker cannot start");
    expect(ready.checks.workers).toContain("LIFELINE_EMBEDDING_DIMENSIONS");
  } finally {
    await api.stop();
  }
});

test("npm start's supervisor stops with exit code 78 when its worker cannot start, instead of restarting it every second", async () => {
  const env = testEnv(redis.url, { ...unusableEmbedding, LIFELINE_WORKER_PROCESSES: "1" });
  const main = Bun.spawn([process.execPath, join(import.meta.dir, "../../src/main.ts")], { env: { ...process.env, ...env, LOG_LEVEL: "info" }, stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => main.kill("SIGKILL"), 30_000);
  const [code, out, err] = await Promise.all([main.exited, new Response(main.stdout).text(), new Response(main.stderr).text()]);
  clearTimeout(timer);
  expect(code).toBe(78);
  expect(err.match(/lifeline worker: fix these settings/g)).toHaveLength(1);
  expect(err).toContain("LIFELINE_EMBEDDING_DIMENSIONS");
  expect(out + err).toContain("could not start (exit code 78)");
  expect(out + err).not.toContain("restarting it");
});

test("a worker opening a memory of another embedding model exits 78 naming the way out (reembed)", async () => {
  const env = testEnv(redis.url);
  const local = spawnWorker(env);
  await local.started;
  local.proc.kill("SIGTERM");
  await local.proc.exited;
  const other = spawnWorker({ ...env, EMBEDDINGS_PROVIDER: "openai", OPENAI_BASE_URL: "http://127.0.0.1:9/v1", LIFELINE_EMBEDDING_MODEL: "my-model", LIFELINE_EMBEDDING_DIMENSIONS: "16" });
  expect(await other.proc.exited).toBe(78);
  expect(other.lines.join("\n")).toContain("bun run reembed");
});

test("workers that keep restarting make /ready degraded, naming how often they started", async () => {
  const env = testEnv(redis.url, { LIFELINE_READY_MAX_WORKER_STARTS: "2" });
  const h = await ingestHarness(loadConfig(env));
  try {
    for (let i = 0; i < 3; i++) {
      const w = spawnWorker(env);
      await w.started;
      w.proc.kill("SIGKILL");
      await w.proc.exited;
    }
    const ready = (await (await h.app.handle(new Request("http://lifeline.test/ready"))).json()) as any;
    expect(ready).toMatchObject({ status: "degraded", failing: ["workers"], checks: { workers: "workers started 3 times in 10 minutes (a crash loop?)" } });
  } finally {
    h.close();
  }
});

test("dead letters and failed jobs above LIFELINE_READY_MAX_DEAD_LETTERS make /ready degraded; at or below it, ready", async () => {
  const env = testEnv(redis.url, { LIFELINE_JOB_ATTEMPTS: "1" });
  const strict = await ingestHarness(loadConfig(env));
  const lenient = await ingestHarness(loadConfig({ ...env, LIFELINE_READY_MAX_DEAD_LETTERS: "1" }));
  const worker = spawnWorker(env);
  try {
    await worker.started;
    const ready = async (h: typeof strict) => (await (await h.app.handle(new Request("http://lifeline.test/ready"))).json()) as any;
    expect((await ready(strict)).status).toBe("ready");
    // A producer wrote garbage straight to a stream: the clean stage dead-letters it.
    await strict.deps.redis.xadd(strict.deps.keys.stream(0), "*", "m", "poison-1", "e", "{not json");
    const degraded = await waitFor(async () => {
      const r = await ready(strict);
      return r.failing?.includes("deadLetters") ? r : undefined;
    }, 30_000, "/ready to count the dead letter");
    expect(degraded).toMatchObject({ status: "degraded", failing: ["deadLetters", "failedJobs"], checks: { deadLetters: 1, failedJobs: 1 } });
    expect((await ready(lenient)).status).toBe("ready");
    const letters = await (await strict.app.handle(new Request("http://lifeline.test/admin/dead-letters", { headers: { authorization: `Bearer ${TEST_KEYS.admin}` } }))).json() as any;
    expect(letters.deadLetters[0].queue).toBe("clean");
  } finally {
    worker.proc.kill("SIGTERM");
    await worker.proc.exited;
    strict.close();
    lenient.close();
  }
});
