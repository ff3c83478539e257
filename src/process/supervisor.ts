/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Calls onGone once when the process that started this one (its pid in
 * LIFELINE_SUPERVISOR_PID) has gone, even by SIGKILL: no child of `npm start` outlives its
 * parent. A process started by hand (no supervisor pid) is not watched.
 */
export function watchSupervisor(pid: number | undefined, onGone: () => void, everyMs = 500): () => void {
  if (!pid) return () => {};
  const timer = setInterval(() => {
    if (process.ppid === pid && isAlive(pid)) return;
    clearInterval(timer);
    onGone();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * SIGINT, SIGTERM and SIGHUP call stop once. Repeats are ignored: Ctrl-C reaches every process
 * of the group and the parent then forwards a SIGTERM too; the stop is bounded by its own timeout.
 */
export function onStopSignals(stop: (signal: NodeJS.Signals) => void): void {
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const)
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      stop(signal);
    });
}

/** Resolves with the promise's value, or with "timeout" after ms. */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
