/**
 * `bun run demo`: something to look at from the first minute. Imports a slice of a public data
 * set (samples/online-retail: 300 customers of UCI Online Retail) into the Lifeline that
 * `npm start` runs, through its API, waits for the pipeline, refits, scores every customer and
 * prints three of them (the riskiest, a middle one, the safest) with the URLs to open.
 */
import { defineCommand } from "citty";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StartupError } from "../src/errors/startup-error";
import { createApiClient } from "../src/import/api-client";
import { onlineRetailMapping } from "../src/import/builtin-mappings";
import { runImport } from "../src/import/import-run";
import { httpLagProbe } from "../src/import/lag-probe";
import type { Insight } from "../src/inference/insight-schema";
import { apiUrl, cliTarget, roleKey } from "./lib/instance";
import { lifelineApi, refitAndWait, type LifelineCall } from "./lib/lifeline-api";
import { runCommand } from "./lib/run-command";

const SAMPLE = join(import.meta.dir, "..", "samples", "online-retail", "sample-300-customers.csv");
const say = (line: string) => process.stdout.write(`${line}\n`);

/** Until the workers have taken every stream entry and job: GET /ready's backlog is 0 three times in a row. */
async function waitForPipeline(call: LifelineCall, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let calm = 0;
  while (calm < 3) {
    if (Date.now() > deadline) throw new StartupError(`the pipeline still had work after ${timeoutMs / 1000} s; are the workers running? (LIFELINE_WORKER_PROCESSES ≥ 1, or \`bun run worker\`)`);
    const res = await fetch(call.base + "/ready");
    const backlog = ((await res.json().catch(() => ({}))) as { checks?: { backlog?: unknown } }).checks?.backlog;
    calm = backlog === 0 ? calm + 1 : 0;
    await Bun.sleep(1_000);
  }
}

type Scored = { customerId: string; insight: Insight };

type JobResult = { jobId: string; customerId: string; state: string; insight?: Insight; error?: string };

/** Scores customers as of `asOf` in one bulk request (?wait=true), then follows the jobs that outlast the wait. */
async function scoreAll(call: LifelineCall, customerIds: string[], asOf: string): Promise<Scored[]> {
  const { json } = await call<{ results: JobResult[] }>("POST", "/signals/churn?wait=true", { customerIds, asOf });
  const scored: Scored[] = [];
  for (let result of json.results) {
    if (!result) throw new StartupError("a scoring job vanished before it finished; run `bun run demo` again");
    while (result.state !== "completed" && result.state !== "failed") {
      await Bun.sleep(500);
      result = (await call<JobResult>("GET", `/signals/churn/${result.jobId}`)).json;
    }
    if (result.state === "failed" || !result.insight) throw new StartupError(`scoring ${result.customerId} failed: ${result.error}`);
    scored.push({ customerId: result.customerId, insight: result.insight });
  }
  return scored;
}

const percent = (p: number) => `${Math.round(p * 100)}%`;

function describe(label: string, { customerId, insight }: Scored, url: string): string {
  const c = insight.churn;
  const lines = [
    `\n${label}: ${customerId}  churn ${percent(c.probability)} (${c.riskTier} risk; ${percent(c.interval.level)} interval ${percent(c.interval.low)}–${percent(c.interval.high)}, ${c.mode} model)`,
    ...c.drivers.slice(0, 2).map((d) => `  raises the risk: ${d.reason}`),
    ...c.protective.slice(0, 1).map((d) => `  lowers it:       ${d.reason}`),
    ...insight.recommendations.slice(0, 3).map((r) => `  recommend:       ${r.name ?? r.itemId} (${r.reason})`),
    `  plan:            ${insight.strategy.objective}`,
    `  first step:      ${insight.strategy.actions[0]!.action} (${insight.strategy.actions[0]!.channel}, ${insight.strategy.actions[0]!.timing})`,
    `  profile:         curl -H "Authorization: Bearer $READ" ${url}/clients/${encodeURIComponent(customerId)}`,
  ];
  return lines.join("\n");
}

const main = defineCommand({
  meta: {
    name: "demo",
    description:
      "Imports 300 customers of UCI Online Retail (samples/online-retail) into the Lifeline `npm start` runs, waits for the pipeline, refits,\n" +
      "scores every customer as of the end of the data and prints three of them with the URLs to open. Running it again changes nothing (duplicates).",
  },
  args: {
    url: { type: "string", description: "API base URL (default: the one `npm start` runs from the data folder)" },
    "data-dir": { type: "string", description: "data folder of the instance (default: LIFELINE_DATA_DIR or ./data of this checkout)" },
    "wait-seconds": { type: "string", default: "300", description: "how long to wait for the pipeline to take everything" },
  },
  async run({ args }) {
    const target = cliTarget({ dataDir: args["data-dir"] });
    if (!target.instance && !args.url)
      throw new StartupError(`no Lifeline is running from ${target.dataDir}: start it with \`npm start\` (in another terminal), then run \`bun run demo\` again`);
    const url = apiUrl(target, args.url);
    const key = (role: "WRITE" | "READ" | "ADMIN") => {
      const k = roleKey(target, role);
      if (!k) throw new StartupError(`no ${role.toLowerCase()} key for ${url}: set LIFELINE_${role}_KEYS, or run it with \`npm start\` so <data dir>/keys.json exists`);
      return k;
    };
    const read = lifelineApi(url, key("READ"));
    const admin = lifelineApi(url, key("ADMIN"));

    // What the file holds: its customers and the end of its history (scores are as of then).
    const customers = new Set<string>();
    let lastMs = 0;
    const dry = join(tmpdir(), `lifeline-demo-${process.pid}.rejects.jsonl`);
    await runImport({ mapping: onlineRetailMapping, files: [SAMPLE], dryRun: true, rejectsPath: dry, onEvent: (e) => {
      customers.add(String(e.userId));
      lastMs = Math.max(lastMs, Date.parse(e.timestamp));
    } });

    say(`1/4 importing ${customers.size} customers of UCI Online Retail (${SAMPLE.replace(`${process.cwd()}/`, "")}) into ${url}`);
    const api = createApiClient({ url, key: key("WRITE") });
    const imported = await runImport({
      mapping: onlineRetailMapping,
      files: [SAMPLE],
      api,
      rejectsPath: join(target.dataDir, "import", "demo", `${new Date().toISOString().replace(/[:.]/g, "-")}.rejects.jsonl`),
      lag: httpLagProbe(api),
    });
    say(`    ${imported.rows} lines → ${imported.events} orders: ${imported.accepted} new, ${imported.duplicates} already there, ${imported.rejected} rejected (${imported.seconds} s)`);

    say("2/4 waiting for the workers: profiles, identities, memory");
    const t0 = performance.now();
    await waitForPipeline(read, Number(args["wait-seconds"]) * 1000);
    say(`    done (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

    say("3/4 refitting the churn model and the recommender on this history");
    await refitAndWait(admin, { onProgress: (line) => say(`    ${line}`) });

    const asOf = new Date(lastMs + 60_000).toISOString();
    say(`4/4 scoring all ${customers.size} customers as of ${asOf} (the end of the data)`);
    const scored = (await scoreAll(read, [...customers], asOf)).sort((a, b) => b.insight.churn.probability - a.insight.churn.probability);
    say(describe("Riskiest", scored[0]!, url));
    say(describe("In the middle", scored[Math.floor(scored.length / 2)]!, url));
    say(describe("Safest", scored.at(-1)!, url));
    say(
      [
        "",
        "Open:",
        `  ${url}/docs                 the API, with every route and example`,
        `  ${url}/admin/login          the queue dashboard (log in with the admin key in ${join(target.dataDir, "keys.json")})`,
        `  ${url}/metrics              Prometheus metrics`,
        `READ=$(node -p 'require("${join(target.dataDir, "keys.json")}").LIFELINE_READ_KEYS') to run the curl lines above.`,
      ].join("\n"),
    );
  },
});

runCommand("demo", main);
