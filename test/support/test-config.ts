import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type Config, type Env } from "../../src/config";

/** One converted copy of the local embedding model for every test (conversion takes seconds). */
export const TEST_MODEL_CACHE_DIR = join(tmpdir(), "lifeline-test-models");

export const TEST_KEYS = { write: "wk_test_write", read: "rk_test_read", admin: "ak_test_admin" } as const;

/** Settings for one test: fresh key prefix and data folder, known keys, quiet logs. */
export function testEnv(redisUrl: string, env: Env = {}): Record<string, string> {
  return Object.fromEntries(
    Object.entries({
      REDIS_URL: redisUrl,
      LIFELINE_KEY_PREFIX: `t${crypto.randomUUID().slice(0, 8)}`,
      LIFELINE_DATA_DIR: mkdtempSync(join(tmpdir(), "lifeline-test-")),
      LIFELINE_MODEL_CACHE_DIR: TEST_MODEL_CACHE_DIR,
      LIFELINE_LOCAL_VOCAB_SIZE: "30000",
      LIFELINE_WRITE_KEYS: TEST_KEYS.write,
      LIFELINE_READ_KEYS: TEST_KEYS.read,
      LIFELINE_ADMIN_KEYS: TEST_KEYS.admin,
      LOG_LEVEL: "silent",
      PORT: "0",
      ...env,
    }).filter((kv): kv is [string, string] => kv[1] !== undefined),
  );
}

export function testConfig(redisUrl: string, env: Env = {}): Config {
  return loadConfig(testEnv(redisUrl, env));
}
