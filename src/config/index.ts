export { loadConfig, ConfigError, CONFIG_ERROR_EXIT_CODE } from "./load";
export { configSchema, redisClusterTarget, scoringBudget, secretSettings, type ClusterTarget, type Config, type Env } from "./schema";
