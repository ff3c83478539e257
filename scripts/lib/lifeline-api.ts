import { StartupError } from "../../src/errors/startup-error";
import { retryAfterMs } from "../../src/import/api-client";

/** A call the running Lifeline answered with an error, or could not be reached for. */
export class ApiCallError extends Error {}

/** JSON calls to a running Lifeline's API with one key. */
export function lifelineApi(base: string, key: string) {
  async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
    let res: Response;
    for (let attempt = 0; ; attempt++) {
      try {
        res = await fetch(`${base}${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (err) {
        throw new StartupError(`cannot reach Lifeline at ${base} (${(err as Error).message}): start it with \`npm start\`, or pass --url`);
      }
      // Over the key's rate limit, or Redis busy: wait as told, a few times.
      if ((res.status !== 429 && res.status !== 503) || attempt >= 10) break;
      await Bun.sleep((retryAfterMs(res.headers.get("retry-after")) ?? 1_000) + 50);
    }
    const json = (await res.json().catch(() => ({}))) as T & { message?: unknown; error?: unknown };
    if (res.status >= 400) throw new ApiCallError(`${method} ${path} answered ${res.status}: ${String(json.message ?? json.error ?? "")}`);
    return { status: res.status, json };
  }
  return Object.assign(call, { base });
}
export type LifelineCall = ReturnType<typeof lifelineApi>;

type RefitJob = { state: string; progress?: { stage?: string; done?: number; total?: number }; result?: unknown; error?: string };

/** POST /admin/refit (admin key), then follows the job to its end; resolves with its result. */
export async function refitAndWait(call: LifelineCall, opts: { asOf?: string; onProgress?: (line: string) => void; pollMs?: number } = {}): Promise<unknown> {
  const { json } = await call<{ jobId: string }>("POST", "/admin/refit", opts.asOf ? { asOf: opts.asOf } : {});
  opts.onProgress?.(`refit queued as job ${json.jobId}`);
  let last = "";
  for (;;) {
    const { json: job } = await call<RefitJob>("GET", `/admin/refit/${json.jobId}`);
    const p = job.progress;
    const line = p && typeof p === "object" && p.stage ? `${job.state}: ${p.stage}${p.total ? ` (${p.done}/${p.total})` : ""}` : job.state;
    if (line !== last) opts.onProgress?.(line);
    last = line;
    if (job.state === "completed") return job.result;
    if (job.state === "failed") throw new ApiCallError(`refit failed: ${job.error}`);
    await Bun.sleep(opts.pollMs ?? 1_000);
  }
}
