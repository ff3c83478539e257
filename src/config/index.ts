export { loadConfig, ConfigError } from "./load";
export { configSchema, secretSettings, type Config, type Env } from "./schema";
