/**
 * `bun run refit`: asks the running Lifeline to refit its churn model and recommender now
 * (POST /admin/refit) and follows the job until it ends, printing its progress.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defineCommand, runMain } from "citty";

const env = process.env;
const dataDir = env.LIFELINE_DATA_DIR ?? "./data";

class RefitCliError extends Error {}

/** --key, LIFELINE_ADMIN_KEY, the first of LIFELINE_ADMIN_KEYS, or the key `npm start` stored. */
function adminKey(flag: string | undefined): string {
  const fromEnv = flag || env.LIFELINE_ADMIN_KEY || env.LIFELINE_ADMIN_KEYS?.split(",")[0]?.trim();
  if (fromEnv) return fromEnv;
  const file = join(dataDir, "keys.json");
  if (existsSync(file)) {
    const key = (JSON.parse(readFileSync(file, "utf8")) as { LIFELINE_ADMIN_KEYS?: string }).LIFELINE_ADMIN_KEYS?.split(",")[0]?.trim();
    if (key) return key;
  }
  throw new RefitCliError(`no admin key: pass --key, set LIFELINE_ADMIN_KEY, or run \`npm start\` once so ${file} exists`);
}

const main = defineCommand({
  meta: { name: "refit", description: "Refit the churn model and the recommender of a running Lifeline now, and follow the job to its end." },
  args: {
    url: { type: "string", description: "API base URL (default http://127.0.0.1:$PORT, PORT 8080)" },
    key: { type: "string", description: "admin key (default LIFELINE_ADMIN_KEY, LIFELINE_ADMIN_KEYS or data/keys.json)" },
    "as-of": { type: "string", description: "fit as of this ISO-8601 moment (default: now, or the end of the data)" },
    wait: { type: "boolean", default: true, description: "follow the job until it ends (--no-wait: just queue it)" },
  },
  async run({ args }) {
    const base = (args.url || `http://127.0.0.1:${env.PORT || 8080}`).replace(/\/$/, "");
    const headers = { authorization: `Bearer ${adminKey(args.key)}`, "content-type": "application/json" };
    const call = async (method: string, path: string, body?: unknown) => {
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      } catch (err) {
        throw new RefitCliError(`cannot reach Lifeline at ${base} (${(err as Error).message}); start it with \`npm start\` or pass --url`);
      }
      const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (!res.ok) throw new RefitCliError(`${method} ${path} answered ${res.status}: ${String(json.message ?? json.error ?? "")}`);
      return json;
    };
    const { jobId } = (await call("POST", "/admin/refit", args["as-of"] ? { asOf: args["as-of"] } : {})) as { jobId: string };
    process.stdout.write(`refit queued as job ${jobId}\n`);
    if (!args.wait) return;
    let last = "";
    for (;;) {
      const job = (await call("GET", `/admin/refit/${jobId}`)) as { state: string; progress?: { stage?: string; done?: number; total?: number }; result?: unknown; error?: string };
      const p = job.progress;
      const line = p && typeof p === "object" && p.stage ? `${job.state}: ${p.stage}${p.total ? ` (${p.done}/${p.total})` : ""}` : job.state;
      if (line !== last) process.stdout.write(`${line}\n`);
      last = line;
      if (job.state === "completed") return void process.stdout.write(`${JSON.stringify(job.result, null, 2)}\n`);
      if (job.state === "failed") throw new RefitCliError(`refit failed: ${job.error}`);
      await Bun.sleep(1_000);
    }
  },
});

runMain(main).catch((err) => {
  process.stderr.write(`refit: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
