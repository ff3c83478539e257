import { readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { loadConfig, type Config, type Env } from "../../src/config";
import { StartupError } from "../../src/errors/startup-error";
import { readInstance, type Instance } from "../../src/process/instance-file";

const REPO = resolve(import.meta.dir, "..", "..");

/** The data folder a CLI looks in: --data-dir, LIFELINE_DATA_DIR, or ./data of this checkout (where `npm start` keeps it). */
export function cliDataDir(flag?: string): string {
  const dir = flag || process.env.LIFELINE_DATA_DIR || "data";
  return isAbsolute(dir) ? dir : flag || process.env.LIFELINE_DATA_DIR ? resolve(dir) : join(REPO, dir);
}

export type CliTarget = {
  dataDir: string;
  /** The instance `npm start` runs from that folder, if any. */
  instance?: Instance;
  /** Settings: flags, then the environment, then what the running instance recorded. */
  env: Env;
  /** The settings parsed; with needsRedis, refuses to guess a Redis when no instance runs and none is named. */
  config(opts?: { needsRedis?: boolean }): Config;
};

/**
 * What a CLI acts on: the instance `npm start` runs from the data folder (its Redis, key
 * prefix, keys, API URL), with environment variables and then flags taking precedence.
 */
export function cliTarget(flags: { dataDir?: string; settings?: Env } = {}): CliTarget {
  const dataDir = cliDataDir(flags.dataDir);
  const instance = readInstance(dataDir);
  const fromFlags = Object.fromEntries(Object.entries(flags.settings ?? {}).filter(([, v]) => v !== undefined && v !== ""));
  const env: Env = { ...instance?.settings, ...process.env, LIFELINE_DATA_DIR: dataDir, ...fromFlags };
  return {
    dataDir,
    instance,
    env,
    config(opts = {}) {
      if (opts.needsRedis && !env.REDIS_URL && !env.REDIS_CLUSTER_NODES)
        throw new StartupError(`no Lifeline is running from ${dataDir} (no instance.json of a live process) and REDIS_URL is not set: start it with \`npm start\`, pass --data-dir, or pass --redis-url`);
      return loadConfig(env);
    },
  };
}

/** The API base URL: --url, the running instance's, or PORT/HOST of the settings. */
export function apiUrl(target: CliTarget, flag?: string): string {
  if (flag) return flag.replace(/\/+$/, "");
  if (target.instance) return target.instance.apiUrl;
  const host = target.env.HOST && !["0.0.0.0", "::"].includes(target.env.HOST) ? target.env.HOST : "127.0.0.1";
  return `http://${host}:${target.env.PORT || 8080}`;
}

/** The first key of a role: the flag, then LIFELINE_<ROLE>_KEYS of the settings, then <data dir>/keys.json. */
export function roleKey(target: CliTarget, role: "WRITE" | "READ" | "ADMIN", flag?: string): string | undefined {
  if (flag) return flag;
  const name = `LIFELINE_${role}_KEYS`;
  const fromSettings = target.env[name]?.split(",")[0]?.trim();
  if (fromSettings) return fromSettings;
  try {
    const keys = JSON.parse(readFileSync(join(target.dataDir, "keys.json"), "utf8")) as Record<string, string>;
    return keys[name]?.split(",")[0]?.trim() || undefined;
  } catch {
    return undefined;
  }
}
