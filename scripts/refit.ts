/**
 * `bun run refit`: asks the running Lifeline to refit its churn model and recommender now
 * (POST /admin/refit) and follows the job until it ends, printing its progress.
 */
import { defineCommand } from "citty";
import { StartupError } from "../src/errors/startup-error";
import { apiUrl, cliTarget, roleKey } from "./lib/instance";
import { lifelineApi, refitAndWait } from "./lib/lifeline-api";
import { runCommand } from "./lib/run-command";

const main = defineCommand({
  meta: { name: "refit", description: "Refit the churn model and the recommender of a running Lifeline now, and follow the job to its end." },
  args: {
    url: { type: "string", description: "API base URL (default: the one `npm start` runs from the data folder, else http://127.0.0.1:$PORT)" },
    key: { type: "string", description: "admin key (default: LIFELINE_ADMIN_KEY, LIFELINE_ADMIN_KEYS, the running instance's, or <data dir>/keys.json)" },
    "data-dir": { type: "string", description: "data folder of the instance (default: LIFELINE_DATA_DIR or ./data of this checkout)" },
    "as-of": { type: "string", description: "fit as of this ISO-8601 moment (default: now, or the end of the data)" },
    wait: { type: "boolean", default: true, description: "follow the job until it ends (--no-wait: just queue it)" },
  },
  async run({ args }) {
    const target = cliTarget({ dataDir: args["data-dir"] });
    const key = roleKey(target, "ADMIN", args.key || process.env.LIFELINE_ADMIN_KEY);
    if (!key) throw new StartupError("no admin key: pass --key, set LIFELINE_ADMIN_KEY, or run `npm start` once so <data dir>/keys.json exists");
    const call = lifelineApi(apiUrl(target, args.url), key);
    if (!args.wait) {
      const { json } = await call<{ jobId: string }>("POST", "/admin/refit", args["as-of"] ? { asOf: args["as-of"] } : {});
      return void process.stdout.write(`refit queued as job ${json.jobId}\n`);
    }
    const result = await refitAndWait(call, { asOf: args["as-of"], onProgress: (line) => process.stdout.write(`${line}\n`) });
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  },
});

runCommand("refit", main);
