import type { Subprocess } from "bun";
import { spawnSync } from "node:child_process";

/** Installs a Debian package when its command is missing (root only); throws with the fix otherwise. */
export function requireCommand(command: string, debianPackage: string): void {
  if (spawnSync("sh", ["-c", `command -v ${command}`]).status === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`${command} is missing: sudo apt-get install -y ${debianPackage}`);
  spawnSync("apt-get", ["install", "-y", "-qq", debianPackage], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
}

/** Spawns a Bun script and waits until it answers HTTP on the port. */
export async function startHttpProcess(script: string, port: number, env: Record<string, string>): Promise<Subprocess> {
  const proc = Bun.spawn([process.execPath, script], { env: { ...process.env, ...env, PORT: String(port) }, stdout: "ignore", stderr: "inherit" });
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return proc;
    } catch {
      await Bun.sleep(50);
    }
  }
  proc.kill();
  throw new Error(`${script} did not listen on ${port}`);
}

export type WrkResult = { requestsPerSec: number; p50Ms: number; p99Ms: number; non2xx: number };

export function wrk(url: string, opts: { seconds: number; connections: number; env?: Record<string, string> }): WrkResult {
  const r = spawnSync(
    "wrk",
    ["-t1", `-c${opts.connections}`, `-d${opts.seconds}s`, "--latency", "-s", "bench/lib/wrk-event.lua", url],
    { env: { ...process.env, ...opts.env }, encoding: "utf8" },
  );
  const out = r.stdout;
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  const ms = (re: RegExp) => {
    const m = re.exec(out);
    if (!m) return NaN;
    const v = Number(m[1]);
    return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
  };
  return {
    requestsPerSec: num(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: ms(/50%\s+([\d.]+)(us|ms|s)/),
    p99Ms: ms(/99%\s+([\d.]+)(us|ms|s)/),
    non2xx: num(/Non-2xx or 3xx responses:\s+(\d+)/) || 0,
  };
}
