import { configSchema, type Config, type Env } from "./schema";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/**
 * Exit code of a process that cannot start with its settings (sysexits' EX_CONFIG): restarting it
 * cannot help, so `npm start` stops with the message instead.
 */
export const CONFIG_ERROR_EXIT_CODE = 78;

/** Parses the environment once; a bad value stops start-up with the variable named. */
export function loadConfig(env: Env = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(settings)"}: ${i.message}`);
  throw new ConfigError(`fix these settings:\n${lines.join("\n")}`);
}
