import type { Logger } from "./logger";

/**
 * Runs a start-up step; if it fails, logs its message (which says what to fix) and stops the
 * process with exit code 1 instead of running half-configured or printing a stack trace.
 */
export async function exitOnStartupFailure<T>(log: Logger, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    log.fatal({ err }, `cannot start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
