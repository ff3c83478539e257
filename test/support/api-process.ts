import type { Subprocess } from "bun";
import { join } from "node:path";
import { freePort } from "./redis-server";
import { waitFor } from "./wait-for";

export type ApiProcess = { url: string; proc: Subprocess; stop(): Promise<void> };

/** `bun src/api/server.ts` as its own process on a free port, with these settings. */
export async function startApiProcess(env: Record<string, string>): Promise<ApiProcess> {
  const port = await freePort();
  const proc = Bun.spawn([process.execPath, join(import.meta.dir, "../../src/api/server.ts")], {
    env: { ...process.env, ...env, PORT: String(port), HOST: "127.0.0.1" },
    stdout: "ignore",
    stderr: "inherit",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/health`).catch(() => undefined))?.ok, 30_000, "the API process to answer /health");
  return {
    url,
    proc,
    async stop() {
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}
