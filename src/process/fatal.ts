import { CONFIG_ERROR_EXIT_CODE, ConfigError } from "../config";
import { MemoryMismatchError, UnsupportedStoreError } from "../errors";

/** Exit code of a process stopped by a bad setting (sysexits' EX_CONFIG): supervisors do not restart it. */
export const EXIT_CONFIG = CONFIG_ERROR_EXIT_CODE;

/** Problems no restart can fix: a setting, a memory of another model, a server version Lifeline cannot use. */
export const isSettingsProblem = (err: unknown) => err instanceof ConfigError || err instanceof MemoryMismatchError || err instanceof UnsupportedStoreError;

const showsStacks = () => ["debug", "trace"].includes(process.env.LOG_LEVEL ?? "");

/**
 * The end of a process that cannot go on: one clear message on stderr (what, which setting or
 * flag, how to fix it), the stack only with LOG_LEVEL=debug, and a non-zero exit: the error's own
 * `exitCode` when it has one (2 for a usage mistake), 78 for a setting, else 1.
 */
export function exitOnFatal(err: unknown, name = "lifeline"): never {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`${name}: ${message}\n`);
  if (showsStacks() && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  const own = (err as { exitCode?: unknown } | null)?.exitCode;
  process.exit(typeof own === "number" ? own : isSettingsProblem(err) ? EXIT_CONFIG : 1);
}

/** Runs a process's main function; what it throws ends the process through exitOnFatal. */
export function runProcess(name: string, main: () => Promise<unknown>): void {
  main().catch((err: unknown) => exitOnFatal(err, name));
}
