import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import Redis from "ioredis";
import { MemoryMismatchError } from "../../src/errors/memory-mismatch-error";
import { createCustomerSums, type CustomerSumsState } from "../../src/memory/customer-sums";
import { applyEvent, customerDirection, emptyCustomerVector } from "../../src/memory/customer-vector";
import { eventFingerprint, type CountedEvent } from "../../src/memory/sum-changes";
import { createRedis } from "../../src/redis/connection";
import { keyspace } from "../../src/redis/keys";
import { startRedisCluster } from "../support/redis-cluster";
import { startRedis, type TestRedis } from "../support/redis-server";
import { testConfig } from "../support/test-config";

const DIMENSIONS = 8;
const HALF_LIFE = 30 * 24 * 3600 * 1000;
const T0 = Date.UTC(2026, 0, 1);

let server: TestRedis;
const clients: Redis[] = [];
let keys = keyspace("t", 4);

beforeAll(async () => {
  server = await startRedis();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.disconnect();
  keys = keyspace(`t${crypto.randomUUID().slice(0, 8)}`, 4);
});
afterAll(async () => {
  await server.stop();
});

/** A store's view of the sums through its own connection (as another worker process has). */
function open(dimensions = DIMENSIONS) {
  const redis = new Redis(server.url);
  clients.push(redis);
  return createCustomerSums(redis, keys, { dimensions, halfLifeMs: HALF_LIFE });
}

let seq = 0;
function event(axis: number, day = 0, text = `event ${++seq}`): CountedEvent {
  const vector = new Float32Array(DIMENSIONS);
  vector[axis % DIMENSIONS] = 1;
  vector[(axis + 1) % DIMENSIONS] = 0.25;
  const unit = vector.map((x) => x / Math.hypot(...vector));
  const ts = T0 + day * 86_400_000;
  return { pointId: crypto.randomUUID(), vector: unit, ts, fingerprint: eventFingerprint(ts, text) };
}

/** The stored sums must equal the sums of exactly these events, computed from scratch. */
function expectSumsOf(state: CustomerSumsState | undefined, events: CountedEvent[]) {
  const want = emptyCustomerVector(DIMENSIONS, 0);
  for (const e of events) applyEvent(want, e.vector, e.ts, HALF_LIFE);
  expect(state).toBeDefined();
  const scale = 2 ** ((state!.cv.refTs - want.refTs) / HALF_LIFE);
  expect(state!.cv.weight * scale).toBeCloseTo(want.weight, 9);
  const got = customerDirection(state!.cv)!;
  const wanted = customerDirection(want)!;
  expect(got.reduce((dot, x, i) => dot + x * wanted[i]!, 0)).toBeCloseTo(1, 6);
}

test("an event applied twice (a redelivery, a retried job) counts once and keeps its version", async () => {
  const sums = open();
  const e = event(0);
  const first = await sums.apply("c1", [{ op: "add", event: e }]);
  const again = await sums.apply("c1", [{ op: "add", event: e, previous: e }]);
  expect(again!.version).toBe(first!.version);
  expectSumsOf(await sums.get("c1"), [e]);
});

test("two processes adding distinct events of one to three customers in parallel count every event once", async () => {
  const [a, b] = [open(), open()];
  const events = Array.from({ length: 90 }, (_, i) => ({ customerId: `c${i % 3}`, event: event(i, i % 7) }));
  await Promise.all(events.map(({ customerId, event: e }, i) => (i % 2 ? a : b).apply(customerId, [{ op: "add", event: e }])));
  for (const customerId of ["c0", "c1", "c2"])
    expectSumsOf(await a.get(customerId), events.filter((e) => e.customerId === customerId).map((e) => e.event));
});

test("the same events delivered to two processes at once still count once", async () => {
  const [a, b] = [open(), open()];
  const events = Array.from({ length: 20 }, (_, i) => event(i));
  await Promise.all(events.flatMap((e) => [a.apply("dup", [{ op: "add", event: e }]), b.apply("dup", [{ op: "add", event: e }])]));
  expectSumsOf(await a.get("dup"), events);
});

test("every write gets a higher version, and the version after an erasure is higher still", async () => {
  const sums = open();
  const v1 = (await sums.apply("c", [{ op: "add", event: event(1) }]))!.version;
  const v2 = (await sums.apply("c", [{ op: "add", event: event(2) }]))!.version;
  expect(v2).toBeGreaterThan(v1);
  const fence = await sums.erase("c");
  expect(fence).toBeGreaterThan(v2);
  expect(await sums.get("c")).toBeUndefined();
});

test("an erased customer takes nothing in while its tombstone lasts", async () => {
  const redis = new Redis(server.url);
  clients.push(redis);
  const sums = createCustomerSums(redis, keys, { dimensions: DIMENSIONS, halfLifeMs: HALF_LIFE });
  await sums.apply("gone", [{ op: "add", event: event(1) }]);
  await redis.set(keys.erased("gone"), "now", "EX", 60);
  await sums.erase("gone");
  expect(await sums.apply("gone", [{ op: "add", event: event(2) }])).toBeUndefined();
  expect(await sums.get("gone")).toBeUndefined();
});

test("a re-rendered redelivery replaces the event's contribution instead of adding a second one", async () => {
  const sums = open();
  const before = event(0, 0, "pre_conversion: Order Completed");
  const other = event(3, 1);
  await sums.apply("r", [{ op: "add", event: before }, { op: "add", event: other }]);
  const after = { ...event(5, 0, "post_conversion: Order Completed"), pointId: before.pointId };
  await sums.apply("r", [{ op: "add", event: after, previous: before }]);
  expectSumsOf(await sums.get("r"), [after, other]);
});

test("moving events between customers, replayed after a crash, moves each once", async () => {
  const sums = open();
  const moving = [event(1), event(2, 3)];
  const staying = event(4);
  await sums.apply("anon", [...moving, staying].map((e) => ({ op: "add" as const, event: e })));
  await sums.apply("user", [{ op: "add", event: event(6) }]);
  const userBefore = await sums.get("user");
  for (let replay = 0; replay < 2; replay++) {
    await sums.apply("user", moving.map((e) => ({ op: "add" as const, event: e })));
    await sums.apply("anon", moving.map((e) => ({ op: "remove" as const, event: e })));
  }
  expectSumsOf(await sums.get("anon"), [staying]);
  const user = await sums.get("user");
  expect(user!.cv.weight).toBeGreaterThan(userBefore!.cv.weight);
  const emptied = await sums.apply("anon", [{ op: "remove", event: staying }]);
  expect(emptied!.cv.weight).toBe(0);
  // Nothing is kept for an emptied customer; a later event starts it again at a higher version.
  expect(await sums.get("anon")).toBeUndefined();
  expect((await sums.apply("anon", [{ op: "add", event: event(1) }]))!.version).toBeGreaterThan(emptied!.version);
});

test("sums written for another number of dimensions are refused, not misread", async () => {
  await open(DIMENSIONS).apply("c", [{ op: "add", event: event(1) }]);
  expect(open(16).get("c")).rejects.toBeInstanceOf(MemoryMismatchError);
});

test("on Redis Cluster, two processes' parallel adds to customers on different masters count once each", async () => {
  const cluster = await startRedisCluster();
  const config = testConfig(cluster.url);
  const connections = [createRedis(config, "worker"), createRedis(config, "worker")];
  try {
    const [a, b] = connections.map((redis) => createCustomerSums(redis, keys, { dimensions: DIMENSIONS, halfLifeMs: HALF_LIFE }));
    // Enough customers that their {c:…} slots land on every master.
    const customers = Array.from({ length: 12 }, (_, i) => `cl-${i}`);
    const events = Array.from({ length: 96 }, (_, i) => ({ customerId: customers[i % customers.length]!, event: event(i, i % 5) }));
    await Promise.all(events.flatMap(({ customerId, event: e }) => [a!.apply(customerId, [{ op: "add", event: e }]), b!.apply(customerId, [{ op: "add", event: e }])]));
    for (const customerId of customers)
      expectSumsOf(await b!.get(customerId), events.filter((e) => e.customerId === customerId).map((e) => e.event));
    expect((await a!.erase(customers[0]!)) > 0).toBe(true);
  } finally {
    for (const c of connections) c.disconnect();
    await cluster.stop();
  }
}, 120_000);
