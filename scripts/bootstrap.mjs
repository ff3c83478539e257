#!/usr/bin/env node
// The two quick-start commands: `npm start` and `npm test`. Plain Node (no dependencies), so
// it runs on a fresh machine before anything is installed; it installs what is missing.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const bun = join(root, "node_modules", ".bin", "bun");
const say = (msg) => process.stderr.write(`[lifeline] ${msg}\n`);

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

function pingRedis(port) {
  return new Promise((resolvePing) => {
    const socket = connect({ host: "127.0.0.1", port }, () => socket.write("PING\r\n"));
    socket.setTimeout(500, () => (socket.destroy(), resolvePing(false)));
    socket.on("data", (d) => (socket.destroy(), resolvePing(d.toString().startsWith("+PONG"))));
    socket.on("error", () => resolvePing(false));
  });
}

async function startLocalRedis(dataDir) {
  const port = Number(process.env.LIFELINE_LOCAL_REDIS_PORT ?? 6379);
  if (await pingRedis(port)) {
    say(`using the Redis already answering on 127.0.0.1:${port}`);
    return { url: `redis://127.0.0.1:${port}`, child: undefined };
  }
  const dir = join(dataDir, "redis");
  mkdirSync(dir, { recursive: true });
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--appendfsync", "everysec", "--protected-mode", "no"],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  for (let i = 0; i < 100 && !(await pingRedis(port)); i++) await new Promise((r) => setTimeout(r, 100));
  if (!(await pingRedis(port))) {
    say(`redis-server did not start on port ${port}`);
    process.exit(1);
  }
  say(`started redis-server (AOF on) on 127.0.0.1:${port}, data in ${dir}`);
  return { url: `redis://127.0.0.1:${port}`, child };
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

async function start() {
  ensureDependencies();
  const dataDir = resolve(root, process.env.LIFELINE_DATA_DIR ?? "data");
  const env = { ...process.env, LIFELINE_DATA_DIR: dataDir };
  let redis;
  if (!process.env.REDIS_URL && !process.env.REDIS_CLUSTER_NODES) {
    ensureRedisServer();
    redis = await startLocalRedis(dataDir);
    env.REDIS_URL = redis.url;
  }
  Object.assign(env, ensureKeys(dataDir));
  runChild(bun, ["src/main.ts"], env, (code) => {
    redis?.child?.kill("SIGTERM");
    process.exit(code);
  });
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

const command = process.argv[2];
if (command === "start") await start();
else if (command === "test") test();
else {
  say("usage: node scripts/bootstrap.mjs start|test");
  process.exit(2);
}
