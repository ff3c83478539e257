import { loadConfig, type Config, type Env } from "../../src/config";

export const TEST_KEYS = { write: "wk_test_write", read: "rk_test_read", admin: "ak_test_admin" } as const;

/** A config for one test: fresh key prefix, known keys, quiet logs. */
export function testConfig(redisUrl: string, env: Env = {}): Config {
  return loadConfig({
    REDIS_URL: redisUrl,
    LIFELINE_KEY_PREFIX: `t${crypto.randomUUID().slice(0, 8)}`,
    LIFELINE_WRITE_KEYS: TEST_KEYS.write,
    LIFELINE_READ_KEYS: TEST_KEYS.read,
    LIFELINE_ADMIN_KEYS: TEST_KEYS.admin,
    LOG_LEVEL: "silent",
    PORT: "0",
    ...env,
  });
}
