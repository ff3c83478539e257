import { expect, test } from "bun:test";
import type { CleanEvent } from "../../pipelines/clean-event";
import { defaultStageRules } from "../../pipelines/lifecycle-stage";
import { createProfileStore } from "../../src/profiles/profile-store";
import { keyspace } from "../../src/redis/keys";
import { redisForFile } from "../support/redis-server";

// Two worker processes each keep the profiles they wrote: neither may lose the other's events.
const ctx = redisForFile();

let seq = 0;
const view = (customerId: string): CleanEvent => {
  const ts = Date.UTC(2024, 0, 1) + seq * 60_000;
  return { messageId: `m-${seq++}`, type: "track", name: "Product Viewed", userId: customerId, ts, receivedAt: ts, properties: {}, products: [{ id: `p-${seq % 3}`, quantity: 1, price: 2 }], stage: "pre_conversion", flags: [] };
};

test("a worker's kept profile never hides another worker's write: every event counts once, replays change nothing", async () => {
  const keys = keyspace("cache-two", 4);
  const a = createProfileStore(ctx.client, keys, defaultStageRules, { cacheBytes: 10_000_000 });
  const b = createProfileStore(ctx.client, keys, defaultStageRules, { cacheBytes: 10_000_000 });
  const fresh = createProfileStore(ctx.client, keys, defaultStageRules);
  const [e1, e2, e3] = [view("c1"), view("c1"), view("c1")];

  await a.apply("c1", [e1]);
  await b.apply("c1", [e2]);
  const third = await a.apply("c1", [e3]);
  expect(third.profile.eventCounts["Product Viewed"]).toBe(3);
  expect(await a.get("c1")).toEqual(await fresh.get("c1"));
  expect((await b.get("c1"))?.version).toBe(third.profile.version);

  const replay = await b.apply("c1", [e1, e2, e3]);
  expect(replay.applied).toEqual([]);
  expect((await fresh.get("c1"))?.version).toBe(third.profile.version);
  expect((await fresh.get("c1"))?.eventCounts["Product Viewed"]).toBe(3);
});

test("a profile removed elsewhere is not brought back from a worker's kept copy", async () => {
  const keys = keyspace("cache-removed", 4);
  const a = createProfileStore(ctx.client, keys, defaultStageRules, { cacheBytes: 10_000_000 });
  const b = createProfileStore(ctx.client, keys, defaultStageRules);
  await a.apply("c2", [view("c2"), view("c2")]);
  await b.remove("c2");
  expect(await a.get("c2")).toBeUndefined();
  const after = await a.apply("c2", [view("c2")]);
  expect(after.profile.eventCounts["Product Viewed"]).toBe(1);
  expect(await b.get("c2")).toEqual(after.profile);
});

test("kept profiles are frozen: a caller changing one fails loudly instead of changing the next write", async () => {
  const keys = keyspace("cache-frozen", 4);
  const a = createProfileStore(ctx.client, keys, defaultStageRules, { cacheBytes: 10_000_000 });
  const { profile } = await a.apply("c3", [view("c3")]);
  expect(() => {
    (profile.eventCounts as Record<string, number>)["Product Viewed"] = 99;
  }).toThrow();
  expect((await a.get("c3"))?.eventCounts["Product Viewed"]).toBe(1);
});
