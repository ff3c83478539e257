import pino, { type Logger } from "pino";
import type { Config } from "../config";

export type { Logger };

/** The one pino root. Children bind requestId, jobId, customerId. */
export function createLogger(config: Pick<Config, "LOG_LEVEL">, name = "lifeline"): Logger {
  return pino({
    name,
    level: config.LOG_LEVEL,
    redact: {
      paths: [
        "writeKey",
        "apiKey",
        "password",
        "authorization",
        "*.authorization",
        "headers.authorization",
        'headers["x-write-key"]',
        "req.headers.authorization",
        'req.headers["x-write-key"]',
        "cookie",
        "headers.cookie",
        "req.headers.cookie",
        'headers["set-cookie"]',
        "key",
        "config.LIFELINE_WRITE_KEYS",
        "config.LIFELINE_READ_KEYS",
        "config.LIFELINE_ADMIN_KEYS",
        "config.OPENAI_API_KEY",
        "config.QDRANT_API_KEY",
        "config.LIFELINE_SUPPRESSION_SECRET",
      ],
      censor: "[redacted]",
    },
  });
}
