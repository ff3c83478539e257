#!/usr/bin/env node
// The two quick-start commands: `npm start` and `npm test`. Plain Node (no dependencies), so
// it runs on a fresh machine before anything is installed; it installs what is missing.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bun = join(root, "node_modules", ".bin", "bun");
const say = (msg) => process.stderr.write(`[lifeline] ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Stops before anything was started, with one sentence. */
function fail(msg, code = 1) {
  say(msg);
  process.exit(code);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", cwd: root, ...opts });
  if (r.status !== 0) {
    say(`failed: ${cmd} ${args.join(" ")}`);
    process.exit(r.status ?? 1);
  }
}

function ensureDependencies() {
  const installed = join(root, "node_modules", ".package-lock.json");
  const lock = join(root, "package-lock.json");
  if (existsSync(installed) && existsSync(bun) && statSync(installed).mtimeMs >= statSync(lock).mtimeMs) return;
  say("installing dependencies (npm ci)");
  run("npm", ["ci", "--no-audit", "--no-fund"]);
}

const hasCommand = (name) => spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;

function ensureRedisServer() {
  if (hasCommand("redis-server") && hasCommand("redis-cli")) return;
  if (!isRoot() || !hasCommand("apt-get")) {
    say("redis-server is not installed. Install it with: sudo apt-get install -y redis-server  (or set REDIS_URL to a Redis you run)");
    process.exit(1);
  }
  say("installing redis-server from the system packages");
  if (!aptInstall(["redis-server", "redis-tools"])) {
    say("could not install redis-server; install it with: sudo apt-get install -y redis-server redis-tools");
    process.exit(1);
  }
  // Debian starts a system redis on 6379 after install; Lifeline runs its own in the data folder.
  spawnSync("sh", ["-c", "service redis-server stop >/dev/null 2>&1 || true"]);
}

const DEFAULT_LOCAL_REDIS_PORT = 6390;

/** Where the RESP value starting at `at` ends, or -1 while it is incomplete. */
function respEnd(text, at = 0) {
  const eol = text.indexOf("\r\n", at);
  if (eol < 0) return -1;
  const head = text[at];
  const n = Number(text.slice(at + 1, eol));
  if (head === "$") return n < 0 ? eol + 2 : text.length >= eol + 2 + n + 2 ? eol + 2 + n + 2 : -1;
  if (head === "*") {
    let pos = eol + 2;
    for (let i = 0; i < n && pos >= 0; i++) pos = respEnd(text, pos);
    return pos;
  }
  return eol + 2;
}

/** One Redis command over a plain socket (no dependencies yet): its raw reply, or null when nothing listens. */
function redisCommand(port, command) {
  return new Promise((resolveReply) => {
    let reply = "";
    let isConnected = false;
    const socket = connect({ host: "127.0.0.1", port }, () => ((isConnected = true), socket.write(`${command}\r\n`)));
    const done = () => (socket.destroy(), resolveReply(isConnected ? reply : null));
    socket.setTimeout(1_000, done);
    socket.on("data", (d) => {
      reply += d.toString("latin1");
      if (respEnd(reply) > 0) done();
    });
    socket.on("error", done);
    socket.on("end", done);
  });
}

/** Lifeline's own redis-server for this data folder, on LIFELINE_LOCAL_REDIS_PORT: never someone else's Redis. */
async function startLocalRedis(dataDir) {
  const port = Number(process.env.LIFELINE_LOCAL_REDIS_PORT || DEFAULT_LOCAL_REDIS_PORT);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`LIFELINE_LOCAL_REDIS_PORT=${process.env.LIFELINE_LOCAL_REDIS_PORT} is not a port number (1-65535)`);
  const dir = join(dataDir, "redis");
  const url = `redis://127.0.0.1:${port}`;
  const answer = await redisCommand(port, "CONFIG GET dir");
  if (answer !== null) {
    if (answer.includes(`\r\n${dir}\r\n`)) {
      // Left running by an earlier start that was killed: it is ours, so adopt it (and stop it at the end).
      const pid = Number(/process_id:(\d+)/.exec((await redisCommand(port, "INFO server")) ?? "")?.[1]);
      say(`the redis-server of this data folder is still running on 127.0.0.1:${port} (pid ${pid || "?"}); using it`);
      return { url, pid: pid || undefined };
    }
    const what = answer.startsWith("*") || answer.startsWith("-") ? "another Redis" : "another program";
    fail(
      `port ${port} (LIFELINE_LOCAL_REDIS_PORT) is taken by ${what}. Set LIFELINE_LOCAL_REDIS_PORT to a free port for Lifeline's own Redis, ` +
        `or REDIS_URL=redis://127.0.0.1:${port} to use that Redis on purpose`,
    );
  }
  mkdirSync(dir, { recursive: true });
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec", "--protected-mode", "no"];
  // Its own process group: Ctrl-C in the terminal does not reach it, so it is stopped last, after
  // the API and workers have finished. --pdeathsig: it also stops if this process is killed.
  const [cmd, cmdArgs] = hasCommand("setpriv") ? ["setpriv", ["--pdeathsig", "SIGTERM", "redis-server", ...args]] : ["redis-server", args];
  const child = spawn(cmd, cmdArgs, { stdio: ["ignore", "ignore", "inherit"], detached: true });
  for (let i = 0; i < 100 && (await redisCommand(port, "PING")) === null && child.exitCode === null; i++) await sleep(100);
  if (!(await redisCommand(port, "PING"))?.startsWith("+PONG")) fail(`redis-server did not start on port ${port} (LIFELINE_LOCAL_REDIS_PORT); its message is above`);
  say(`started redis-server (AOF on) on 127.0.0.1:${port}, data in ${dir}`);
  return { url, pid: child.pid, child };
}

/** When no keys are configured, create one per role once and keep them in the data folder. */
function ensureKeys(dataDir) {
  const names = ["LIFELINE_WRITE_KEYS", "LIFELINE_READ_KEYS", "LIFELINE_ADMIN_KEYS"];
  if (names.some((n) => process.env[n])) return {};
  const file = join(dataDir, "keys.json");
  let keys;
  if (existsSync(file)) keys = JSON.parse(readFileSync(file, "utf8"));
  else {
    const make = (p) => `${p}_${randomBytes(18).toString("base64url")}`;
    keys = { LIFELINE_WRITE_KEYS: make("wk"), LIFELINE_READ_KEYS: make("rk"), LIFELINE_ADMIN_KEYS: make("ak") };
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  }
  say(`keys (kept in ${file}):\n  write: ${keys.LIFELINE_WRITE_KEYS}\n  read:  ${keys.LIFELINE_READ_KEYS}\n  admin: ${keys.LIFELINE_ADMIN_KEYS}`);
  return keys;
}

function runChild(cmd, args, env, onExit) {
  const child = spawn(cmd, args, { stdio: "inherit", cwd: root, env });
  for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => child.kill(sig));
  child.on("exit", (code, signal) => onExit(code ?? (signal ? 1 : 0)));
  return child;
}

const isAlive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
};

/**
 * One `npm start` per data folder: a lock file holds this process's pid while it runs.
 * A second start on the same folder (same Redis files, same keys) is refused.
 */
function lockDataDir(dataDir) {
  mkdirSync(dataDir, { recursive: true });
  const lock = join(dataDir, "npm-start.pid");
  const instance = join(dataDir, "instance.json");
  // The lock holds a pid; instance.json (written by src/main.ts) holds {"pid": …}.
  const pidIn = (file) => {
    if (!existsSync(file)) return 0;
    const text = readFileSync(file, "utf8");
    try {
      return Number(JSON.parse(text)?.pid ?? text) || 0;
    } catch {
      return 0;
    }
  };
  const running = [lock, instance].map(pidIn).find((pid) => pid > 0 && pid !== process.pid && isAlive(pid));
  if (running) {
    let url = "";
    try {
      url = JSON.parse(readFileSync(instance, "utf8")).apiUrl ?? "";
    } catch {}
    fail(
      `Lifeline is already running from ${dataDir} (pid ${running}${url ? `, API ${url}` : ""}). Stop it first (Ctrl-C where it runs, or kill ${running}), ` +
        "or start another one with its own LIFELINE_DATA_DIR and PORT",
    );
  }
  writeFileSync(lock, `${process.pid}\n`);
  return () => {
    if (existsSync(lock) && readFileSync(lock, "utf8").trim() === String(process.pid)) rmSync(lock, { force: true });
  };
}

/** Refuses a taken API port before anything starts (unless sharing it is asked for). */
async function checkApiPort() {
  const port = Number(process.env.PORT || 8080);
  if (!port || /^(true|1|yes)$/i.test(process.env.LIFELINE_REUSE_PORT ?? "")) return;
  const host = process.env.HOST || "0.0.0.0";
  const code = await new Promise((resolveCode) => {
    const server = createServer();
    server.once("error", (err) => resolveCode(err.code));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolveCode(undefined)));
  });
  if (code === "EADDRINUSE")
    fail(`port ${port} (PORT) on ${host} is already in use (another Lifeline or another program): stop it, set PORT to a free port, or set LIFELINE_REUSE_PORT=true to share the port on purpose`);
}

/**
 * `npm start`: Redis (its own, unless REDIS_URL is set), then `src/main.ts` (the API and the
 * workers). Ctrl-C or SIGTERM to any of the processes, or npm itself going away, stop them all:
 * the API and workers first (they finish what is in flight), Redis last.
 */
async function start() {
  ensureDependencies();
  const dataDir = resolve(root, process.env.LIFELINE_DATA_DIR ?? "data");
  const env = { ...process.env, LIFELINE_DATA_DIR: dataDir };
  const unlock = lockDataDir(dataDir);
  await checkApiPort();
  let redis;
  if (!process.env.REDIS_URL && !process.env.REDIS_CLUSTER_NODES) {
    ensureRedisServer();
    redis = await startLocalRedis(dataDir);
    env.REDIS_URL = redis.url;
  }
  Object.assign(env, ensureKeys(dataDir));

  let stopping = false;
  // The API and its workers in a process group of their own: this process stops them (Ctrl-C
  // reaches it alone), and knows when the last of them has gone before it stops Redis.
  const main = spawn(bun, ["src/main.ts"], { stdio: "inherit", cwd: root, env: { ...env, LIFELINE_SUPERVISOR_PID: String(process.pid) }, detached: true });
  const groupAlive = () => isAlive(-main.pid);
  const stopTimeoutMs = Number(process.env.LIFELINE_STOP_TIMEOUT_MS) || 10_000;
  const stopAll = async (code, why) => {
    if (stopping) return;
    stopping = true;
    if (why) say(why);
    if (main.exitCode === null && main.signalCode === null) main.kill("SIGTERM");
    // Workers of a main that was killed stop by themselves (they watch it): wait for them too.
    for (let waited = 0; groupAlive() && waited < stopTimeoutMs + 5_000; waited += 100) await sleep(100);
    if (groupAlive()) process.kill(-main.pid, "SIGKILL");
    if (redis?.pid && isAlive(redis.pid)) {
      say("stopping redis-server");
      process.kill(redis.pid, "SIGTERM");
      for (let i = 0; i < 100 && isAlive(redis.pid); i++) await sleep(100);
      if (isAlive(redis.pid)) process.kill(redis.pid, "SIGKILL");
    }
    unlock();
    say("stopped");
    process.exit(code);
  };
  main.on("exit", (code, signal) => {
    if (stopping) return;
    if (code === 0) stopAll(0);
    else stopAll(code ?? 1, `Lifeline stopped (${code === null ? `signal ${signal}` : `exit code ${code}`}${code === 78 ? ": a setting is wrong, see above" : ""}); not restarting it`);
  });
  redis?.child?.on("exit", (code) => stopping || stopAll(1, `redis-server stopped (exit code ${code}); stopping Lifeline`));
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => stopAll(0));
  // npm does not pass SIGTERM on: when it (or the shell it started) goes, stop everything too.
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && stopAll(0, "npm is gone; stopping Lifeline"), 500).unref();

  // Once the API answers, say where (main.ts records it in instance.json).
  const instanceFile = join(dataDir, "instance.json");
  while (!stopping && main.exitCode === null) {
    try {
      const instance = JSON.parse(readFileSync(instanceFile, "utf8"));
      if (instance.pid === main.pid) {
        say(`ready: API ${instance.apiUrl}   docs ${instance.apiUrl}/docs   queues ${instance.apiUrl}/admin/queues   (Ctrl-C stops everything)`);
        break;
      }
    } catch {}
    await sleep(250);
  }
}

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

/** apt-get install, refreshing the package lists once if the first try fails; true on success. */
function aptInstall(packages) {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const install = () => spawnSync("apt-get", ["install", "-y", "-qq", ...packages], { stdio: "inherit", env }).status === 0;
  if (install()) return true;
  spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
  return install();
}

/** Tools only some tests need: installed when missing (as root); those tests skip and say why otherwise. */
function ensureTestTool(present, pkg, purpose) {
  if (present()) return;
  if (!isRoot() || !hasCommand("apt-get")) {
    say(`${pkg} is not installed; ${purpose} will be skipped. Install it with: sudo apt-get install -y ${pkg}`);
    return;
  }
  say(`installing ${pkg} from the system packages (for ${purpose})`);
  if (!aptInstall([pkg])) say(`could not install ${pkg}; ${purpose} will be skipped`);
}

function test() {
  ensureDependencies();
  ensureRedisServer();
  ensureTestTool(() => existsSync("/usr/bin/chromium"), "chromium", "the browser tests");
  ensureTestTool(
    () => spawnSync("docker", ["compose", "version"], { stdio: "ignore" }).status === 0 || hasCommand("docker-compose"),
    "docker-compose",
    "the docker-compose.yml check",
  );
  runChild(bun, ["test", "--timeout", "120000", ...process.argv.slice(3)], process.env, (code) => process.exit(code));
}

const START_USAGE = `Usage: npm start

Installs what is missing (npm ci, redis-server), starts Lifeline's own redis-server (AOF on) in the
data folder unless REDIS_URL is set, creates one key per role the first time, then the API and
LIFELINE_WORKER_PROCESSES workers. Ctrl-C stops everything. Settings come from the environment:
  PORT, HOST                  API listener (8080, 0.0.0.0); a taken port is refused unless LIFELINE_REUSE_PORT=true
  LIFELINE_DATA_DIR           data folder (./data): Redis files, keys.json, instance.json (what CLIs read), memory
  LIFELINE_LOCAL_REDIS_PORT   port of Lifeline's own redis-server (${DEFAULT_LOCAL_REDIS_PORT}; never another Redis's)
  REDIS_URL                   use this Redis instead of starting one
See README.md (Configuration) for the rest.
`;

const [command, ...rest] = process.argv.slice(2);
if (command === "start" && (rest.includes("--help") || rest.includes("-h"))) process.stdout.write(START_USAGE);
else if (command === "start" && rest.length) fail(`npm start: unknown argument ${rest[0]} (see npm start -- --help)`, 2);
else if (command === "start") await start();
else if (command === "test") test();
else fail("usage: node scripts/bootstrap.mjs start|test", 2);
