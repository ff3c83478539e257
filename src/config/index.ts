export { loadConfig, ConfigError } from "./load";
export { configSchema, redisClusterTarget, secretSettings, type ClusterTarget, type Config, type Env } from "./schema";
