import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import Redis from "ioredis";
import { freePort } from "./redis-server";

export type ClusterNode = { port: number; dir: string; id: string; proc: Subprocess | undefined };
export type ClusterRole = { port: number; id: string; role: "master" | "replica"; masterId?: string; failed: boolean; slots: [number, number][] };

export type TestRedisCluster = {
  /** `redis+cluster://127.0.0.1:a,127.0.0.1:b,...` (all six nodes as seeds). */
  url: string;
  /** `127.0.0.1:a,127.0.0.1:b,...` for REDIS_CLUSTER_NODES. */
  seeds: string;
  nodes: ClusterNode[];
  /** The cluster's view (asked of a live node): who is master of what. */
  topology(): Promise<ClusterRole[]>;
  /** Port of the master that serves a slot now. */
  ownerOf(slot: number): Promise<number>;
  /** Sends a signal to one node's process (SIGKILL: a crash, nothing flushed). */
  kill(port: number, signal?: "SIGKILL" | "SIGTERM"): Promise<void>;
  /** Waits until the cluster is ok again and no slot is served by a failed node; returns how long that took. */
  waitForFailover(deadPort: number, timeoutMs?: number): Promise<number>;
  /** A plain client to one node (caller disconnects). */
  client(port: number): Redis;
  stop(): Promise<void>;
};

export type ClusterOptions = {
  /** How long a master may be unreachable before its replica takes over. @defaultValue 1500 */
  nodeTimeoutMs?: number;
  appendfsync?: "always" | "everysec";
};

/**
 * A real Redis Cluster from the system redis-server: 3 masters + 3 replicas on loopback ports,
 * AOF on, each node in its own temporary folder, created with `redis-cli --cluster create`.
 */
export async function startRedisCluster(opts: ClusterOptions = {}): Promise<TestRedisCluster> {
  const nodes: ClusterNode[] = [];
  for (let i = 0; i < 6; i++) {
    const port = await freePort();
    // The bus port is chosen too: the default (port + 10000) may be past 65535 for an ephemeral port.
    const busPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "lifeline-cluster-"));
    const proc = Bun.spawn(
      [
        "redis-server",
        "--port", String(port),
        "--cluster-port", String(busPort),
        "--bind", "127.0.0.1",
        "--dir", dir,
        "--cluster-enabled", "yes",
        "--cluster-config-file", "nodes.conf",
        "--cluster-node-timeout", String(opts.nodeTimeoutMs ?? 1_500),
        // A replica whose link to the master is old still takes over (the test kills masters on purpose).
        "--cluster-replica-validity-factor", "0",
        // The other masters keep serving their slots while one is failing over.
        "--cluster-require-full-coverage", "no",
        "--appendonly", "yes",
        "--appendfsync", opts.appendfsync ?? "everysec",
        "--save", "",
        "--protected-mode", "no",
        "--loglevel", "warning",
      ],
      { stdout: "ignore", stderr: "inherit" },
    );
    nodes.push({ port, dir, id: "", proc });
  }
  const client = (port: number) => {
    const c = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1, retryStrategy: () => null });
    c.on("error", () => undefined);
    return c;
  };
  await Promise.all(nodes.map((n) => waitFor(() => ping(n.port), 15_000, `redis-server on ${n.port}`)));

  const create = Bun.spawn(["redis-cli", "--cluster", "create", ...nodes.map((n) => `127.0.0.1:${n.port}`), "--cluster-replicas", "1", "--cluster-yes"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  if ((await create.exited) !== 0) throw new Error(`redis-cli --cluster create failed: ${await new Response(create.stderr).text()}`);

  async function topology(): Promise<ClusterRole[]> {
    for (const n of nodes) {
      if (!n.proc || n.proc.exitCode !== null || n.proc.signalCode) continue;
      const c = client(n.port);
      try {
        return parseClusterNodes((await c.call("CLUSTER", "NODES")) as string);
      } catch {
        // try the next node
      } finally {
        c.disconnect();
      }
    }
    throw new Error("no live cluster node answered CLUSTER NODES");
  }

  async function clusterOk(): Promise<boolean> {
    const live = nodes.filter((n) => n.proc && n.proc.exitCode === null && !n.proc.signalCode);
    const states = await Promise.all(
      live.map(async (n) => {
        const c = client(n.port);
        try {
          return /cluster_state:ok/.test((await c.call("CLUSTER", "INFO")) as string);
        } catch {
          return false;
        } finally {
          c.disconnect();
        }
      }),
    );
    return states.every(Boolean);
  }

  await waitFor(clusterOk, 30_000, "cluster_state:ok on every node");
  const roles = await topology();
  for (const n of nodes) n.id = roles.find((r) => r.port === n.port)?.id ?? "";
  // Every node must know every other node's slots before a client starts (gossip takes a moment).
  await waitFor(async () => (await topology()).filter((r) => r.role === "master" && r.slots.length).length === 3, 30_000, "three masters with slots");
  // Replicas finish their first sync a few seconds after the cluster forms; until then WAIT
  // counts no replica. Tests that depend on replication start from a fully replicated cluster.
  await waitFor(
    async () => {
      const masters = (await topology()).filter((r) => r.role === "master" && r.slots.length);
      const online = await Promise.all(
        masters.map(async (m) => {
          const c = new Redis({ port: m.port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 1 });
          try {
            return /slave0:.*state=online/.test((await c.call("INFO", "replication")) as string);
          } catch {
            return false;
          } finally {
            c.disconnect();
          }
        }),
      );
      return online.length === 3 && online.every(Boolean);
    },
    60_000,
    "every master's replica online",
  );

  const seeds = nodes.map((n) => `127.0.0.1:${n.port}`).join(",");
  return {
    url: `redis+cluster://${seeds}`,
    seeds,
    nodes,
    topology,
    async ownerOf(slot) {
      const owner = (await topology()).find((r) => r.role === "master" && !r.failed && r.slots.some(([a, b]) => slot >= a && slot <= b));
      if (!owner) throw new Error(`no live master serves slot ${slot}`);
      return owner.port;
    },
    async kill(port, signal = "SIGKILL") {
      const node = nodes.find((n) => n.port === port);
      if (!node?.proc) throw new Error(`no node on port ${port}`);
      node.proc.kill(signal);
      await node.proc.exited;
    },
    async waitForFailover(deadPort, timeoutMs = 30_000) {
      const started = Date.now();
      await waitFor(
        async () => {
          const t = await topology();
          const dead = t.find((r) => r.port === deadPort);
          const orphaned = dead?.slots.length && !dead.failed;
          const masters = t.filter((r) => r.role === "master" && !r.failed && r.slots.length);
          return !orphaned && masters.length === 3 && (await clusterOk());
        },
        timeoutMs,
        `failover of ${deadPort}`,
      );
      return Date.now() - started;
    },
    client,
    async stop() {
      for (const n of nodes) n.proc?.kill("SIGKILL");
      await Promise.all(nodes.map((n) => n.proc?.exited));
      for (const n of nodes) rmSync(n.dir, { recursive: true, force: true });
    },
  };
}

/** CLUSTER NODES text → roles and slot ranges. */
export function parseClusterNodes(text: string): ClusterRole[] {
  return text
    .trim()
    .split("\n")
    .map((line) => {
      const [id = "", addr = "", flags = "", master = "-", , , , , ...slotFields] = line.split(" ");
      const port = Number(addr.split("@")[0]!.split(":").pop());
      const slots = slotFields
        .filter((s) => !s.startsWith("["))
        .map((s) => {
          const [a, b] = s.split("-").map(Number);
          return [a!, b ?? a!] as [number, number];
        });
      const flagList = flags.split(",");
      return {
        port,
        id,
        role: flagList.includes("master") ? "master" : "replica",
        masterId: master === "-" ? undefined : master,
        failed: flagList.includes("fail") || flagList.includes("fail?") || flagList.includes("noaddr"),
        slots,
      } satisfies ClusterRole;
    });
}

async function ping(port: number): Promise<boolean> {
  const c = new Redis({ host: "127.0.0.1", port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  c.on("error", () => undefined);
  try {
    await c.connect();
    return (await c.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    c.disconnect();
  }
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
