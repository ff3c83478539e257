import type { Subprocess } from "bun";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./redis-server";
import { TEST_MODEL_CACHE_DIR } from "./test-config";
import { waitFor } from "./wait-for";

export const REPO = join(import.meta.dir, "..", "..");

/** pid → parent pid and command line of every process, read from /proc. */
export function processTable(): Map<number, { ppid: number; cmd: string }> {
  const table = new Map<number, { ppid: number; cmd: string }>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // pid (comm) state ppid …; comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      table.set(Number(name), { ppid, cmd });
    } catch {
      // gone meanwhile
    }
  }
  return table;
}

/** Live processes (not zombies) among these pids. */
export function alive(pids: number[]): number[] {
  return pids.filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
    } catch {
      return false;
    }
  });
}

export type NpmStart = {
  /** npm's pid, also its process group's id (it runs as a terminal's foreground job would). */
  pid: number;
  proc: Subprocess;
  dataDir: string;
  port: number;
  redisPort: number;
  url: string;
  output(): string;
  /** bootstrap, main (API + supervisor), worker processes and redis-server, found under npm. */
  processes(): { bootstrap: number; main: number; workers: number[]; redis?: number };
  /** Sends a signal to every process of npm's group, as Ctrl-C in a terminal does. */
  interrupt(signal?: NodeJS.Signals): void;
  waitForOutput(text: string | RegExp, timeoutMs?: number): Promise<void>;
  keys(): { write: string; read: string; admin: string };
  /** Kills whatever is left (SIGKILL), for the end of a test. */
  cleanup(): void;
};

/** The environment of a fresh shell: no settings of the test run leak in. */
function shellEnv(): Record<string, string> {
  const keep = ["PATH", "HOME", "LANG", "TERM", "TMPDIR", "USER"];
  return Object.fromEntries(keep.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])));
}

/**
 * `npm start` as a user runs it, in its own session and process group (setsid), on free ports
 * and a fresh data folder. Resolves once it has started (not necessarily ready).
 */
export async function startNpm(env: Record<string, string> = {}): Promise<NpmStart> {
  const dataDir = env.LIFELINE_DATA_DIR ?? mkdtempSync(join(tmpdir(), "lifeline-npm-start-"));
  const port = Number(env.PORT ?? (await freePort()));
  const redisPort = Number(env.LIFELINE_LOCAL_REDIS_PORT ?? (await freePort()));
  const proc = Bun.spawn(["setsid", "npm", "start"], {
    cwd: REPO,
    env: {
      ...shellEnv(),
      HOST: "127.0.0.1",
      LIFELINE_MODEL_CACHE_DIR: TEST_MODEL_CACHE_DIR,
      LIFELINE_LOCAL_VOCAB_SIZE: "30000",
      ...env,
      PORT: String(port),
      LIFELINE_LOCAL_REDIS_PORT: String(redisPort),
      LIFELINE_DATA_DIR: dataDir,
    },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  void drain(proc.stdout as ReadableStream<Uint8Array>);
  void drain(proc.stderr as ReadableStream<Uint8Array>);
  const all = (): number[] => {
    const table = processTable();
    const out: number[] = [];
    const walk = (pid: number) => {
      for (const [child, p] of table) if (p.ppid === pid) (out.push(child), walk(child));
    };
    walk(proc.pid);
    return out;
  };
  let known: ReturnType<NpmStart["processes"]> | undefined;
  const self: NpmStart = {
    pid: proc.pid,
    proc,
    dataDir,
    port,
    redisPort,
    url: `http://127.0.0.1:${port}`,
    output: () => text,
    processes() {
      const table = processTable();
      const pids = all();
      const find = (needle: string) => pids.filter((pid) => table.get(pid)?.cmd.includes(needle));
      known = {
        bootstrap: find("scripts/bootstrap.mjs")[0]!,
        main: find("src/main.ts")[0]!,
        workers: find("queues/run.ts"),
        redis: find("redis-server")[0],
      };
      return known;
    },
    interrupt(signal = "SIGINT") {
      process.kill(-proc.pid, signal);
    },
    async waitForOutput(needle, timeoutMs = 60_000) {
      await waitFor(() => (typeof needle === "string" ? text.includes(needle) : needle.test(text)) || proc.exitCode !== null, timeoutMs, `output ${needle}`);
      if (!(typeof needle === "string" ? text.includes(needle) : needle.test(text))) throw new Error(`npm start exited (${proc.exitCode}) before printing ${needle}:\n${text}`);
    },
    keys() {
      const k = JSON.parse(readFileSync(join(dataDir, "keys.json"), "utf8"));
      return { write: k.LIFELINE_WRITE_KEYS, read: k.LIFELINE_READ_KEYS, admin: k.LIFELINE_ADMIN_KEYS };
    },
    cleanup() {
      const pids = [proc.pid, ...all(), ...(known ? [known.bootstrap, known.main, ...known.workers, known.redis ?? 0] : [])].filter(Boolean);
      for (const pid of alive(pids))
        try {
          process.kill(pid, "SIGKILL");
        } catch {}
    },
  };
  return self;
}

/** Waits until none of these processes is alive; resolves with how long that took. */
export async function allGone(pids: number[], timeoutMs: number): Promise<number> {
  const started = performance.now();
  await waitFor(() => alive(pids).length === 0, timeoutMs, `processes ${alive(pids).join(", ")} to exit`);
  return performance.now() - started;
}

export const hasInstance = (dataDir: string) => existsSync(join(dataDir, "instance.json"));
