// Every command a user can run answers --help with its usage and does nothing else; unknown
// options are refused; replay-dead-letters reports unknown ids and finds an instance by its data folder.
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeQueues, openQueues, type LifelineQueues } from "../../queues/open-queues";
import type { Config } from "../../src/config";
import { writeInstance } from "../../src/process/instance-file";
import { createRedis, type RedisClient } from "../../src/redis/connection";
import { startRedis, type TestRedis } from "../support/redis-server";
import { testConfig, testEnv } from "../support/test-config";

// Real processes start in the hooks: the timeout is here so `bun test <this file>` alone finds it.
setDefaultTimeout(120_000);

const REPO = join(import.meta.dir, "..", "..");
const COMMANDS = [
  "scripts/import.ts",
  "scripts/replay-dead-letters.ts",
  "scripts/reembed.ts",
  "scripts/eval.ts",
  "src/main.ts",
  "src/api/server.ts",
  "queues/run.ts",
  "bench/ingest.bench.ts",
  "bench/pipeline.bench.ts",
  "bench/memory.bench.ts",
  "bench/embeddings.bench.ts",
  "bench/inference.bench.ts",
  "bench/cluster.bench.ts",
  "bench/eval-churn.ts",
  "bench/eval-recs.ts",
];

let redis: TestRedis;
let env: Record<string, string>;
let config: Config;
let client: RedisClient;
let queues: LifelineQueues;
const letter = { queue: "clean", jobName: "partition", data: { partition: 1 }, reason: "boom", attemptsMade: 5, failedAt: "2024-01-01T00:00:00.000Z" };

beforeAll(async () => {
  redis = await startRedis();
  env = testEnv(redis.url);
  config = testConfig(redis.url, { LIFELINE_KEY_PREFIX: env.LIFELINE_KEY_PREFIX });
  client = createRedis(config, "worker");
  queues = openQueues(config, client);
  await queues["dead-letter"].add("clean/partition", letter, { jobId: "dl-clean-1" });
});
afterAll(async () => {
  await closeQueues(queues);
  client.disconnect();
  await redis.stop();
});

const run = (args: string[], extraEnv: Record<string, string> = env) =>
  Bun.spawnSync([process.execPath, ...args], { cwd: REPO, env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/tmp", ...extraEnv }, timeout: 30_000 });

const deadLetters = async () => (await queues["dead-letter"].getJobs(["waiting"])).map((j) => j.id);

describe("--help", () => {
  for (const command of COMMANDS)
    test(`${command} --help prints its usage, exits 0 and does nothing else`, async () => {
      const before = await client.dbsize();
      const r = run([command, "--help"]);
      expect(r.exitCode).toBe(0);
      expect(r.stdout.toString()).toMatch(/usage/i);
      expect(await client.dbsize()).toBe(before);
      expect(await deadLetters()).toEqual(["dl-clean-1"]);
    });

  test("an unknown option is refused with exit code 2 and nothing done", async () => {
    for (const command of ["scripts/replay-dead-letters.ts", "scripts/import.ts", "bench/ingest.bench.ts"]) {
      const r = run([command, "--mapping", "cdnow", "--frobnicate"]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr.toString()).toMatch(/unknown option '?--(mapping|frobnicate)/i);
    }
    expect(await deadLetters()).toEqual(["dl-clean-1"]);
  });
});

describe("replay-dead-letters", () => {
  test("an unknown id is reported as unknown and nothing else is replayed", async () => {
    const r = run(["scripts/replay-dead-letters.ts", "dl-clean-999"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toContain("dl-clean-999: unknown");
    expect(JSON.parse(r.stdout.toString())).toEqual({ replayed: 0, skipped: [], unknown: ["dl-clean-999"] });
    expect(await deadLetters()).toEqual(["dl-clean-1"]);
  });

  test("finds the Redis and key prefix of the instance running from --data-dir, with no settings in the environment", () => {
    const dataDir = mkdtempSync(join(tmpdir(), "lifeline-cli-"));
    try {
      // An instance record as src/main.ts writes it; this test process stands in for the live instance.
      writeInstance(dataDir, { pid: process.pid, apiUrl: "http://127.0.0.1:1", startedAt: new Date().toISOString(), settings: { REDIS_URL: redis.url, LIFELINE_KEY_PREFIX: env.LIFELINE_KEY_PREFIX! } });
      const r = run(["scripts/replay-dead-letters.ts", "--list", "--data-dir", dataDir], {});
      expect(r.stderr.toString()).toBe("");
      expect(r.stdout.toString()).toContain("dl-clean-1\tclean/partition\tboom");
      // Without an instance and without REDIS_URL, it says so instead of trying 127.0.0.1:6379.
      rmSync(join(dataDir, "instance.json"));
      const none = run(["scripts/replay-dead-letters.ts", "--list", "--data-dir", dataDir], {});
      expect(none.exitCode).toBe(1);
      expect(none.stderr.toString()).toContain(`no Lifeline is running from ${dataDir}`);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
