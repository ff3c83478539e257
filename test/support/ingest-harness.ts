import { gzipSync } from "node:zlib";
import { createApp } from "../../src/api/app";
import { buildAppDeps } from "../../src/api/build-deps";
import type { AppDeps } from "../../src/api/deps";
import type { Config } from "../../src/config";
import { createLogger } from "../../src/log/logger";
import { waitUntilReady } from "../../src/redis/connection";
import { entryEvents } from "../../src/streams/event-log";
import { TEST_KEYS } from "./test-config";

export type PostOptions = { key?: string | null; headers?: Record<string, string>; raw?: string | Uint8Array; gzip?: boolean };

/** The API in-process (app.handle), wired to a real Redis. */
export async function ingestHarness(config: Config) {
  const deps: AppDeps = buildAppDeps(config, createLogger(config));
  await waitUntilReady(deps.redis);
  const app = createApp(deps);

  async function post(path: string, body: unknown, opts: PostOptions = {}) {
    const headers: Record<string, string> = { "content-type": "application/json", ...opts.headers };
    const key = opts.key === undefined ? TEST_KEYS.write : opts.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let payload: string | Uint8Array = opts.raw ?? JSON.stringify(body);
    if (opts.gzip) {
      payload = gzipSync(payload);
      headers["content-encoding"] = "gzip";
    }
    const res = await app.handle(new Request(`http://lifeline.test${path}`, { method: "POST", headers, body: payload }));
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: res.status, body: json, headers: res.headers };
  }

  /** Every entry of every partition stream, parsed. */
  async function storedEvents(): Promise<Array<{ partition: number; id: string; messageId: string; event: any }>> {
    const out: Array<{ partition: number; id: string; messageId: string; event: any }> = [];
    for (let p = 0; p < deps.keys.partitions; p++) {
      const entries = await deps.redis.xrange(deps.keys.stream(p), "-", "+");
      for (const [id, fields] of entries)
        for (const { messageId, json } of entryEvents(fields)) out.push({ partition: p, id, messageId, event: JSON.parse(json) });
    }
    return out;
  }

  return { app, deps, post, storedEvents, close: () => deps.redis.disconnect() };
}
