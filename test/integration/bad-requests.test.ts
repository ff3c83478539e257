import { afterAll, beforeAll, expect, test } from "bun:test";
import { startApiProcess, type ApiProcess } from "../support/api-process";
import { startRedis, type TestRedis } from "../support/redis-server";
import { TEST_KEYS, testEnv } from "../support/test-config";

// Requests that once got a 500 or a bare, connection-dropping 413, sent to a real API process.
let redis: TestRedis;
let api: ApiProcess;

beforeAll(async () => {
  redis = await startRedis();
  api = await startApiProcess(testEnv(redis.url));
});
afterAll(async () => {
  await api?.stop();
  await redis.stop();
});

const send = async (method: string, path: string, init: { key?: string; headers?: Record<string, string>; body?: string | ReadableStream } = {}) => {
  const headers: Record<string, string> = { ...init.headers };
  if (init.key) headers.authorization = `Bearer ${init.key}`;
  const res = await fetch(`${api.url}${path}`, { method, headers, body: init.body, duplex: "half" } as RequestInit);
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
};
const json = { "content-type": "application/json" };

test("a cookie that is not URL-decodable is ignored on every route, /health included", async () => {
  const headers = { cookie: "lifeline_admin=%E0%A4%A" };
  expect((await send("GET", "/health", { headers })).status).toBe(200);
  expect((await send("GET", "/ready", { headers })).status).toBe(200);
  expect((await send("GET", "/clients/nobody", { headers, key: TEST_KEYS.read })).status).toBe(404);
  const admin = await send("GET", "/admin/dead-letters", { headers });
  expect(admin.status).toBe(401);
  expect(admin.json.error).toBe("UNAUTHORIZED");
});

test("POST /admin/login with a JSON content type and a broken or non-object body is a 4xx, never a 500", async () => {
  const broken = await send("POST", "/admin/login", { headers: json, body: '{"key": ' });
  expect(broken.status).toBe(400);
  expect(broken.json.error).toBe("INVALID_JSON");
  for (const body of ["null", "[1]", '"ak"', '{"key": 5}']) expect((await send("POST", "/admin/login", { headers: json, body })).status).toBe(401);
});

test("job ids that name BullMQ's own keys (id, events, meta, …) or a number are 404", async () => {
  for (const id of ["id", "events", "meta", "stalled-check", "1", "wait", "sc-not-a-uuid"]) {
    const res = await send("GET", `/signals/churn/${id}`, { key: TEST_KEYS.read });
    expect({ id, status: res.status }).toEqual({ id, status: 404 });
    expect(res.json.error).toBe("NOT_FOUND");
  }
});

test("a body over the limit gets the JSON 413 naming the limit, declared or chunked, and the server keeps serving", async () => {
  const big = JSON.stringify({ batch: [{ type: "track", userId: "u", event: "E", properties: { blob: "x".repeat(3_000_000) } }] });
  const chunked = () => new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(big)), c.close()) });
  const cases = [
    { path: "/v1/batch", key: TEST_KEYS.write, body: () => big },
    { path: "/v1/batch", key: TEST_KEYS.write, body: chunked },
    { path: "/signals/churn", key: TEST_KEYS.read, body: () => big },
    { path: "/signals/churn", key: TEST_KEYS.read, body: chunked },
    { path: "/admin/dead-letters/replay", key: TEST_KEYS.admin, body: () => big },
  ];
  for (const c of cases) {
    const res = await send("POST", c.path, { key: c.key, headers: json, body: c.body() });
    expect({ path: c.path, status: res.status }).toEqual({ path: c.path, status: 413 });
    expect(res.json).toMatchObject({ error: "PAYLOAD_TOO_LARGE", limitBytes: 500 * 1024 });
  }
  const after = await send("POST", "/v1/track", { key: TEST_KEYS.write, headers: json, body: JSON.stringify({ userId: "u", event: "E" }) });
  expect(after.status).toBe(200);
});

test("ids with NUL or a lone surrogate are a 400 naming the field, in events, paths and scoring bodies", async () => {
  for (const userId of ["a\u0000b", "\ud800", "x\udc00y"]) {
    const res = await send("POST", "/v1/track", { key: TEST_KEYS.write, headers: json, body: JSON.stringify({ userId, event: "E" }) });
    expect(res.status).toBe(400);
    expect(res.json.rejected[0].errors.map((e: { path: string }) => e.path)).toContain("userId");
  }
  // (A URL cannot carry a lone surrogate: percent-encoded, it is invalid UTF-8 and decodes to U+FFFD.)
  for (const path of ["/clients/a%00b", "/clients/a%00b/memory?q=x", "/clients/a%01b/similar"]) {
    const res = await send("GET", path, { key: TEST_KEYS.read });
    expect({ path, status: res.status }).toEqual({ path, status: 400 });
  }
  expect((await send("DELETE", "/clients/a%00b", { key: TEST_KEYS.admin })).status).toBe(400);
  for (const body of [{ customerId: "a\u0000b" }, { customerId: "\ud800" }, { customerIds: ["ok", "\udfff"] }]) {
    const res = await send("POST", "/signals/churn", { key: TEST_KEYS.read, headers: json, body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe("INVALID_REQUEST");
  }
});
