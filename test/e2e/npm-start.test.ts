// `npm start` as a user runs it: real processes (npm, bootstrap, redis-server, the API and a
// worker), real signals sent to them and to their process group, real ports.
import { afterEach, describe, expect, test, setDefaultTimeout } from "bun:test";
import { startRedis, freePort } from "../support/redis-server";
import { waitFor } from "../support/wait-for";
import { allGone, alive, hasInstance, REPO, startNpm, type NpmStart } from "../support/npm-start";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

const started: NpmStart[] = [];
afterEach(() => {
  for (const s of started.splice(0)) s.cleanup();
});

/** npm start, ready (the API answers) and its worker started. */
async function running(env: Record<string, string> = {}) {
  const s = await startNpm(env);
  started.push(s);
  await s.waitForOutput("[lifeline] ready:", 90_000);
  await s.waitForOutput('"msg":"workers started"', 90_000);
  const ps = s.processes();
  expect(ps.workers.length).toBe(1);
  expect(alive([ps.bootstrap, ps.main, ...ps.workers, ps.redis!]).length).toBe(4);
  return { s, ps, all: [s.pid, ps.bootstrap, ps.main, ...ps.workers, ps.redis!] };
}

const STOP_WITHIN_MS = 15_000;

describe("stopping npm start", () => {
  test("Ctrl-C (SIGINT to the process group) stops everything within seconds: API and worker first, Redis last, no connection errors", async () => {
    const { s, all } = await running();
    // Something in flight: an accepted event the worker is processing.
    const res = await fetch(`${s.url}/v1/track`, {
      method: "POST",
      headers: { authorization: `Bearer ${s.keys().write}`, "content-type": "application/json" },
      body: JSON.stringify({ userId: "ada", event: "Order Completed", properties: { revenue: 42 } }),
    });
    expect(res.status).toBe(200);
    s.interrupt("SIGINT");
    const ms = await allGone(all, STOP_WITHIN_MS);
    const out = s.output();
    console.log(`  Ctrl-C: every process gone after ${Math.round(ms)} ms`);
    // Redis is stopped only once the API and workers are done.
    expect(out.indexOf('"msg":"stopped"')).toBeGreaterThan(-1);
    expect(out.indexOf("[lifeline] stopping redis-server")).toBeGreaterThan(out.indexOf('"msg":"stopped"'));
    expect(out).not.toContain("ECONNREFUSED");
    expect(hasInstance(s.dataDir)).toBe(false);
  }, 150_000);

  test("SIGTERM to npm alone (it does not pass it on) stops everything", async () => {
    const { s, all } = await running();
    process.kill(s.pid, "SIGTERM");
    await allGone(all, STOP_WITHIN_MS);
    expect(s.output()).toContain("npm is gone; stopping Lifeline");
  }, 150_000);

  test("SIGKILL to bootstrap: the API, the worker and Redis do not outlive it", async () => {
    const { ps, all } = await running();
    process.kill(ps.bootstrap, "SIGKILL");
    await allGone(all.filter((p) => p !== all[0]), STOP_WITHIN_MS);
  }, 150_000);

  test("SIGKILL to the API process: its worker does not outlive it, and bootstrap stops Redis", async () => {
    const { s, ps, all } = await running();
    process.kill(ps.main, "SIGKILL");
    const ms = await allGone(all, STOP_WITHIN_MS);
    console.log(`  API process killed: every process gone after ${Math.round(ms)} ms`);
    expect(s.output()).toContain("[lifeline] stopping redis-server");
  }, 150_000);

  test("SIGTERM to the worker stops everything, not just the worker", async () => {
    const { s, ps, all } = await running();
    process.kill(ps.workers[0]!, "SIGTERM");
    await allGone(all, STOP_WITHIN_MS);
    expect(s.output()).toContain("worker process 0 was stopped");
  }, 150_000);
});

describe("refusing what would be shared by accident", () => {
  test("a second npm start on a busy port is refused naming the port; the first keeps serving", async () => {
    const { s: first } = await running();
    const second = await startNpm({ PORT: String(first.port) });
    started.push(second);
    expect(await second.proc.exited).not.toBe(0);
    expect(second.output()).toContain(`port ${first.port} (PORT) on 127.0.0.1 is already in use`);
    expect(second.output()).toContain("LIFELINE_REUSE_PORT=true");
    // Nothing of the second one was started, and the first one still answers with its own keys.
    expect(second.output()).not.toContain("started redis-server");
    const res = await fetch(`${first.url}/clients/nobody`, { headers: { authorization: `Bearer ${first.keys().read}` } });
    expect(res.status).toBe(404);
  }, 150_000);

  test("a second npm start on the same data folder is refused", async () => {
    const { s: first } = await running();
    const second = await startNpm({ LIFELINE_DATA_DIR: first.dataDir });
    started.push(second);
    expect(await second.proc.exited).not.toBe(0);
    expect(second.output()).toContain(`Lifeline is already running from ${first.dataDir}`);
  }, 150_000);

  test("a Redis that is not Lifeline's own on LIFELINE_LOCAL_REDIS_PORT is not used", async () => {
    const other = await startRedis();
    try {
      const s = await startNpm({ LIFELINE_LOCAL_REDIS_PORT: String(other.port) });
      started.push(s);
      expect(await s.proc.exited).not.toBe(0);
      expect(s.output()).toContain(`port ${other.port} (LIFELINE_LOCAL_REDIS_PORT) is taken by another Redis`);
      const keys = await Bun.$`redis-cli -p ${other.port} DBSIZE`.text();
      expect(keys.trim()).toBe("0");
    } finally {
      await other.stop();
    }
  }, 60_000);
});

describe("start-up failures stop npm start with one clear sentence", () => {
  test("a bad setting: exit code 78, the setting named, no stack trace, nothing left running", async () => {
    const s = await startNpm({ LIFELINE_STREAM_PARTITIONS: "0" });
    started.push(s);
    expect(await s.proc.exited).not.toBe(0);
    const out = s.output();
    expect(out).toContain("LIFELINE_STREAM_PARTITIONS");
    expect(out).toContain("exit code 78: a setting is wrong");
    expect(out).not.toMatch(/^\s+at /m);
    expect(out).toContain("[lifeline] stopping redis-server");
  }, 60_000);

  test("an unreachable REDIS_URL is named once, with no trace per retry", async () => {
    const closed = await freePort();
    const s = await startNpm({ REDIS_URL: `redis://127.0.0.1:${closed}`, LIFELINE_REDIS_STARTUP_WAIT_MS: "3000" });
    started.push(s);
    expect(await s.proc.exited).not.toBe(0);
    const out = s.output();
    expect(out).toContain(`Redis at redis://127.0.0.1:${closed} (REDIS_URL) did not answer within 3 s (ECONNREFUSED): start it, or set REDIS_URL`);
    // One line when the API first fails to connect, one when it gives up; no trace per retry.
    expect(out.split("\n").filter((l) => l.includes("ECONNREFUSED")).length).toBeLessThanOrEqual(2);
    expect(out).not.toMatch(/^\s+at /m);
  }, 60_000);
});

test("a worker that cannot start stops npm start with its message instead of being restarted", async () => {
  // Only the worker needs the model cache at start-up; the API opens its memory lazily.
  const s = await startNpm({ LIFELINE_MODEL_CACHE_DIR: "/dev/null/models" });
  started.push(s);
  expect(await s.proc.exited).not.toBe(0);
  const out = s.output();
  expect(out).toContain("worker: the local embedding model cannot be cached in /dev/null/models (LIFELINE_MODEL_CACHE_DIR)");
  expect(out).toContain("worker process 0 could not start (exit code 1)");
  expect(out.match(/worker: the local embedding model/g)?.length).toBe(1);
  expect(out).toContain("[lifeline] stopping redis-server");
}, 90_000);

describe("CLIs find the instance npm start runs", () => {
  test("import and replay-dead-letters use its API URL, Redis and keys from the data folder, with no flags or settings", async () => {
    const { s } = await running();
    const cli = (args: string[]) =>
      Bun.spawnSync([process.execPath, ...args, "--data-dir", s.dataDir], {
        cwd: REPO,
        // A fresh shell: no PORT, REDIS_URL or keys; only the data folder says where Lifeline runs.
        env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/tmp" },
      });
    const imported = cli(["scripts/import.ts", "test/fixtures/import/shop-orders.csv", "--mapping", "test/fixtures/import/shop.mapping.json", "--no-progress"]);
    expect(imported.stderr.toString()).toBe("");
    const summary = JSON.parse(imported.stdout.toString());
    expect(summary).toMatchObject({ events: 2, accepted: 2, rejected: 3 });
    const listed = cli(["scripts/replay-dead-letters.ts", "--list"]);
    expect(listed.exitCode).toBe(0);
    expect(listed.stdout.toString()).toContain("0 dead letter(s)");
    const unknown = cli(["scripts/replay-dead-letters.ts", "dl-nope"]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr.toString()).toContain("dl-nope: unknown");
    // The order imported through the discovered API reaches the customer's profile.
    const profile = await waitFor(async () => {
      const res = await fetch(`${s.url}/clients/c-42`, { headers: { authorization: `Bearer ${s.keys().read}` } });
      return res.status === 200 ? ((await res.json()) as { profile: { orders: number } }).profile : undefined;
    }, 30_000, "the imported customer's profile");
    expect(profile.orders).toBe(1);
  }, 150_000);
});
