import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

export type TestRedis = {
  url: string;
  port: number;
  dir: string;
  /** SIGKILL: an abrupt crash (data since the last fsync may be lost). */
  kill(): Promise<void>;
  /** Starts it again on the same port and data folder. */
  restart(): Promise<void>;
  stop(): Promise<void>;
};

/** A real redis-server on a free loopback port, with AOF on, in a temporary folder. */
export async function startRedis(opts: { appendfsync?: "always" | "everysec" } = {}): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), "lifeline-redis-"));
  const port = await freePort();
  let proc: Subprocess | undefined;

  const launch = async () => {
    proc = Bun.spawn(
      [
        "redis-server",
        "--port", String(port),
        "--bind", "127.0.0.1",
        "--dir", dir,
        "--appendonly", "yes",
        "--appendfsync", opts.appendfsync ?? "everysec",
        "--save", "",
        "--protected-mode", "no",
        "--loglevel", "warning",
      ],
      { stdout: "ignore", stderr: "inherit" },
    );
    await waitForPing(port);
  };
  await launch();

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async kill() {
      proc?.kill("SIGKILL");
      await proc?.exited;
    },
    async restart() {
      await launch();
    },
    async stop() {
      proc?.kill("SIGTERM");
      await proc?.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

async function waitForPing(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const reply = await new Promise<string>((resolve, reject) => {
        Bun.connect({
          hostname: "127.0.0.1",
          port,
          socket: {
            open(s) {
              s.write("PING\r\n");
            },
            data(s, chunk) {
              resolve(chunk.toString());
              s.end();
            },
            error(_s, err) {
              reject(err);
            },
            connectError(_s, err) {
              reject(err);
            },
          },
        }).catch(reject);
      });
      if (reply.startsWith("+PONG")) return;
    } catch {
      // not up yet
    }
    await Bun.sleep(25);
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms; is redis-server installed (apt-get install redis-server)?`);
}
