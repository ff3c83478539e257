import { CONFIG_ERROR_EXIT_CODE, ConfigError } from "../config";
import { MemoryMismatchError, UnsupportedStoreError } from "../errors";
import type { Logger } from "./logger";

/** Problems no restart can fix: settings, a memory of another model, a server version Lifeline cannot use. */
export const isSettingsProblem = (err: unknown) => err instanceof ConfigError || err instanceof MemoryMismatchError || err instanceof UnsupportedStoreError;

/**
 * Runs a start-up step; if it fails, logs its message (which says what to fix) and stops the
 * process instead of running half-configured or printing a stack trace: with the config exit
 * code for settings problems (a supervisor then stops instead of restarting), else 1.
 */
export async function exitOnStartupFailure<T>(log: Logger, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    log.fatal({ err }, `cannot start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(isSettingsProblem(err) ? CONFIG_ERROR_EXIT_CODE : 1);
  }
}
