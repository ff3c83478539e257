import { configSchema, type Config, type Env } from "./schema";

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Parses the environment once; a bad value stops start-up with the variable named. */
export function loadConfig(env: Env = process.env): Config {
  const parsed = configSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const lines = parsed.error.issues.map((i) => `  ${i.path.join(".") || "(settings)"}: ${i.message}`);
  throw new ConfigError(`fix these settings:\n${lines.join("\n")}`);
}
