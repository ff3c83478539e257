import type { Subprocess } from "bun";
import { join } from "node:path";

export type WorkerProcess = {
  proc: Subprocess;
  /** Resolves once the worker logged "workers started" (it reads streams and takes jobs from then on). */
  started: Promise<void>;
  /** Every log line (JSON) the worker wrote to stdout so far. */
  lines: string[];
};

/** `bun queues/run.ts` as its own process with these settings; its log is read (at LOG_LEVEL info). */
export function spawnWorker(env: Record<string, string>): WorkerProcess {
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "../../queues/run.ts")], {
    env: { ...process.env, ...env, LOG_LEVEL: "info" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const lines: string[] = [];
  const started = new Promise<void>((resolve, reject) => {
    void (async () => {
      const decoder = new TextDecoder();
      let rest = "";
      for await (const chunk of proc.stdout) {
        rest += decoder.decode(chunk);
        const parts = rest.split("\n");
        rest = parts.pop()!;
        for (const line of parts) {
          lines.push(line);
          if (line.includes('"msg":"workers started"')) resolve();
        }
      }
      reject(new Error(`worker exited before it started (code ${await proc.exited}): ${lines.slice(-3).join(" | ")}`));
    })();
    void new Response(proc.stderr).text().then((text) => text && lines.push(text));
  });
  started.catch(() => undefined);
  return { proc, started, lines };
}
