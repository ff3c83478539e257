import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { configSchema, type Config, type Env } from "../config";
import { isAlive } from "./supervisor";

/**
 * What `npm start` runs from a data folder, so CLIs (import, replay-dead-letters, reembed,
 * demo) find it: the API's URL and the settings it was started with (Redis, key prefix, keys).
 * `<data dir>/instance.json`, readable by its owner only (it holds the keys); removed on a
 * clean stop, and ignored once its process is gone.
 */
const instanceSchema = z.object({
  pid: z.number().int().positive(),
  apiUrl: z.string(),
  startedAt: z.string(),
  /** The settings (environment variables of the config schema) the instance runs with. */
  settings: z.record(z.string(), z.string()),
});
export type Instance = z.infer<typeof instanceSchema>;

export const instancePath = (dataDir: string) => join(dataDir, "instance.json");

/** The URL a client on this machine reaches the API at. */
export function localApiUrl(config: Pick<Config, "HOST">, port: number): string {
  const host = ["0.0.0.0", "::", ""].includes(config.HOST) ? "127.0.0.1" : config.HOST.includes(":") ? `[${config.HOST}]` : config.HOST;
  return `http://${host}:${port}`;
}

/** Settings that belong to one process, not to the instance. */
const OWN_SETTINGS = new Set(["LIFELINE_SUPERVISOR_PID"]);

/** The settings of the config schema that are set in env (what another process needs to act like this one). */
export function schemaSettings(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(configSchema.shape)) {
    if (OWN_SETTINGS.has(name)) continue;
    const value = env[name];
    if (value !== undefined && value !== "") out[name] = value;
  }
  return out;
}

export function writeInstance(dataDir: string, instance: Instance): void {
  mkdirSync(dataDir, { recursive: true });
  const path = instancePath(dataDir);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(instance, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, path);
}

/** Removes the file if it is this process's (a second instance must not remove the first one's). */
export function removeInstance(dataDir: string, pid = process.pid): void {
  if (readInstanceFile(dataDir)?.pid === pid) rmSync(instancePath(dataDir), { force: true });
}

function readInstanceFile(dataDir: string): Instance | undefined {
  const path = instancePath(dataDir);
  if (!existsSync(path)) return undefined;
  try {
    const parsed = instanceSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The instance running from this data folder, or undefined (no file, or its process is gone). */
export function readInstance(dataDir: string): Instance | undefined {
  const instance = readInstanceFile(dataDir);
  return instance && isAlive(instance.pid) ? instance : undefined;
}
