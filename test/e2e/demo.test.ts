// `bun run demo` against a real `npm start`: the first-minute experience, end to end.
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { REPO, startNpm, type NpmStart } from "../support/npm-start";

// Real processes: npm start, then the demo's import, pipeline, refit and scoring.
setDefaultTimeout(600_000);

let s: NpmStart | undefined;
afterAll(() => s?.cleanup());

test("bun run demo imports the sample through the API, refits and prints three customers' answers and the URLs", async () => {
  s = await startNpm();
  await s.waitForOutput('"msg":"workers started"', 120_000);
  const demo = Bun.spawn([process.execPath, "scripts/demo.ts", "--data-dir", s.dataDir], {
    cwd: REPO,
    // Another shell: nothing but the data folder says where Lifeline runs.
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? "/tmp" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(demo.stdout).text(), new Response(demo.stderr).text(), demo.exited]);
  console.log(out);
  expect(err).toBe("");
  expect(code).toBe(0);
  expect(out).toContain("6564 lines → 652 orders: 652 new, 0 already there, 0 rejected");
  expect(out).toMatch(/3\/4 refitting[\s\S]*completed/);
  for (const label of ["Riskiest", "In the middle", "Safest"]) expect(out).toMatch(new RegExp(`${label}: retail-\\d+  churn \\d+% \\((low|medium|high) risk`));
  const churn = [...out.matchAll(/churn (\d+)%/g)].map((m) => Number(m[1]));
  expect(churn[0]!).toBeGreaterThanOrEqual(churn[1]!);
  expect(churn[1]!).toBeGreaterThanOrEqual(churn[2]!);
  expect(out).toContain(`${s.url}/docs`);
  expect(out).toContain(`${s.url}/admin/login`);

  // What it printed is what the API answers: the riskiest customer's profile holds their orders.
  const riskiest = /Riskiest: (retail-\d+)/.exec(out)![1]!;
  const res = await fetch(`${s.url}/clients/${riskiest}`, { headers: { authorization: `Bearer ${s.keys().read}` } });
  expect(res.status).toBe(200);
  expect(((await res.json()) as { profile: { orders: number } }).profile.orders).toBeGreaterThan(0);
});
