import { afterEach, describe, expect, test } from "bun:test";
import { MemoryMismatchError } from "../../src/errors/memory-mismatch-error";
import { applyEvent, customerDirection, emptyCustomerVector, normalised, type CustomerVector } from "../../src/memory/customer-vector";
import { DEFAULT_HALF_LIFE_MS, type MemoryMeta, type MemoryPoint, type MemoryStage, type MemoryStore } from "../../src/memory/memory-store";
import { pointId } from "../../src/memory/point-id";

export const CONTRACT_META: MemoryMeta = { modelId: "contract-test-model", dimensions: 8 };

/** Opens the store under test at the current test's location (same location on every call). */
export type OpenStore = (meta?: MemoryMeta) => Promise<MemoryStore>;

/** What a store's test file can offer beyond the interface, for the cases that need to look inside. */
export type ContractCapabilities = {
  /** The running sums the store holds for a customer (undefined when it holds none). */
  customerVector?: (store: MemoryStore, customerId: string) => Promise<CustomerVector | undefined>;
  /** Makes the store's next write of a customer vector fail: answered 500, or applied but answered after the client gave up. */
  failNextCustomerVectorWrite?: (how: "error" | "late") => void;
};

const DAY_MS = 24 * 3600 * 1000;
const T0 = Date.UTC(2026, 0, 1);

/** A unit vector mostly along `axis`, nudged by `wobble` along the next axis. */
function direction(axis: number, wobble = 0): Float32Array {
  const v = new Float32Array(CONTRACT_META.dimensions);
  v[axis % v.length] = 1;
  v[(axis + 1) % v.length] = wobble;
  return v;
}

type PointSpec = { customerId: string; axis: number; wobble?: number; type?: string; event?: string; stage?: MemoryStage; day?: number };
let seq = 0;
function point(spec: PointSpec): MemoryPoint {
  const messageId = `msg-${++seq}-${crypto.randomUUID()}`;
  return {
    id: pointId(messageId),
    customerId: spec.customerId,
    vector: direction(spec.axis, spec.wobble ?? 0),
    payload: {
      messageId,
      type: spec.type ?? "track",
      event: spec.event ?? "Product Viewed",
      stage: spec.stage ?? "pre_conversion",
      ts: T0 + (spec.day ?? 0) * DAY_MS,
      text: `event on axis ${spec.axis}`,
    },
  };
}

/** The sums of exactly these points, computed from scratch (what the store must hold, whatever happened). */
export function recomputedCustomerVector(points: MemoryPoint[], halfLifeMs = DEFAULT_HALF_LIFE_MS): CustomerVector {
  const cv = emptyCustomerVector(CONTRACT_META.dimensions, 0);
  for (const p of points) applyEvent(cv, normalised(p.vector), p.payload.ts, halfLifeMs);
  return cv;
}

/** Same weight (at one reference time) and same direction, up to float error. */
export function expectSameCustomerVector(got: CustomerVector | undefined, want: CustomerVector): void {
  expect(got).toBeDefined();
  expect(got!.weight * 2 ** ((got!.refTs - want.refTs) / DEFAULT_HALF_LIFE_MS)).toBeCloseTo(want.weight, 6);
  const [a, b] = [customerDirection(got!)!, customerDirection(want)!];
  expect(a.reduce((dot, x, i) => dot + x * b[i]!, 0)).toBeCloseTo(1, 5);
}

export function memoryStoreContract(name: string, open: OpenStore, capabilities: ContractCapabilities = {}): void {
  describe(`${name} memory store contract`, () => {
    const opened: MemoryStore[] = [];
    const openStore = async (meta?: MemoryMeta) => {
      const store = await open(meta);
      opened.push(store);
      return store;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    test("upserting the same point id twice stores one point", async () => {
      const store = await openStore();
      const p = point({ customerId: "c1", axis: 0 });
      await store.upsert([p]);
      await store.upsert([p, { ...p, payload: { ...p.payload, text: "redelivered" } }]);
      expect(await store.count()).toBe(1);
      const hits = await store.search({ vector: direction(0), limit: 10 });
      expect(hits.map((h) => h.id)).toEqual([p.id]);
      expect(hits[0]!.payload.text).toBe("redelivered");
    });

    test("init is idempotent: a second init keeps the points", async () => {
      const store = await openStore();
      await store.upsert([point({ customerId: "c1", axis: 0 })]);
      await store.init();
      expect(await store.count()).toBe(1);
    });

    describe("filters", () => {
      const setup = async () => {
        const store = await openStore();
        const points = [
          point({ customerId: "a", axis: 0, type: "track", stage: "pre_conversion", day: 1 }),
          point({ customerId: "a", axis: 0, wobble: 0.1, type: "page", stage: "pre_conversion", day: 2 }),
          point({ customerId: "a", axis: 0, wobble: 0.2, type: "track", stage: "conversion", event: "Order Completed", day: 3 }),
          point({ customerId: "a", axis: 0, wobble: 0.3, type: "track", stage: "churn_signal", event: "Subscription Cancelled", day: 4 }),
          point({ customerId: "b", axis: 0, type: "track", stage: "conversion", day: 3 }),
        ];
        await store.upsert(points);
        return { store, points };
      };
      const ids = (hits: { id: string }[]) => hits.map((h) => h.id).sort();

      test("customerId restricts a search to that customer's events", async () => {
        const { store, points } = await setup();
        const hits = await store.search({ vector: direction(0), customerId: "a", limit: 10 });
        expect(ids(hits)).toEqual(ids(points.slice(0, 4)));
        expect(hits.every((h) => h.customerId === "a")).toBe(true);
      });

      test("types keeps only the listed segment call types", async () => {
        const { store, points } = await setup();
        const hits = await store.search({ vector: direction(0), customerId: "a", types: ["page"], limit: 10 });
        expect(ids(hits)).toEqual([points[1]!.id]);
        const global = await store.search({ vector: direction(0), types: ["page"], limit: 10 });
        expect(ids(global)).toEqual([points[1]!.id]);
      });

      test("stages keeps only the listed lifecycle stages, per customer and globally", async () => {
        const { store, points } = await setup();
        const own = await store.search({ vector: direction(0), customerId: "a", stages: ["conversion", "churn_signal"], limit: 10 });
        expect(ids(own)).toEqual(ids([points[2]!, points[3]!]));
        const global = await store.search({ vector: direction(0), stages: ["conversion"], limit: 10 });
        expect(ids(global)).toEqual(ids([points[2]!, points[4]!]));
      });

      test("since is inclusive and until exclusive, by event time", async () => {
        const { store, points } = await setup();
        const hits = await store.search({ vector: direction(0), customerId: "a", since: T0 + 2 * DAY_MS, until: T0 + 4 * DAY_MS, limit: 10 });
        expect(ids(hits)).toEqual(ids([points[1]!, points[2]!]));
      });

      test("limit caps the hits, best score first", async () => {
        const { store, points } = await setup();
        const hits = await store.search({ vector: direction(0), customerId: "a", limit: 2 });
        expect(hits.map((h) => h.id)).toEqual([points[0]!.id, points[1]!.id]);
        expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
      });

      test("an unknown type matches nothing", async () => {
        const { store } = await setup();
        expect(await store.search({ vector: direction(0), types: ["no-such-type"], limit: 10 })).toEqual([]);
      });
    });

    test("search never returns another customer's events, even the best match", async () => {
      const store = await openStore();
      await store.upsert([
        point({ customerId: "mine", axis: 3 }),
        ...Array.from({ length: 20 }, () => point({ customerId: "theirs", axis: 0 })),
      ]);
      const hits = await store.search({ vector: direction(0), customerId: "mine", limit: 10 });
      expect(hits).toHaveLength(1);
      expect(hits[0]!.customerId).toBe("mine");
      expect(await store.search({ vector: direction(0), customerId: "nobody", limit: 10 })).toEqual([]);
    });

    test("global search returns every customer's events ranked by score, with payloads", async () => {
      const store = await openStore();
      const near = point({ customerId: "x", axis: 2, event: "Cart Viewed" });
      const mid = point({ customerId: "y", axis: 2, wobble: 1 });
      const far = point({ customerId: "z", axis: 5 });
      await store.upsert([far, mid, near]);
      const hits = await store.search({ vector: direction(2), limit: 3 });
      expect(hits.map((h) => h.id)).toEqual([near.id, mid.id, far.id]);
      expect(hits[0]).toMatchObject({ customerId: "x", payload: near.payload });
      expect(hits[0]!.score).toBeCloseTo(1, 5);
    });

    test("searchCustomers ranks customers by their best event and groups each one's own matches", async () => {
      const store = await openStore();
      await store.upsert([
        point({ customerId: "best", axis: 1 }),
        point({ customerId: "best", axis: 1, wobble: 0.1 }),
        point({ customerId: "best", axis: 1, wobble: 0.2 }),
        point({ customerId: "second", axis: 1, wobble: 0.5 }),
        point({ customerId: "second", axis: 6 }),
        point({ customerId: "third", axis: 1, wobble: 2 }),
        point({ customerId: "unrelated", axis: 4 }),
      ]);
      const found = await store.searchCustomers({ vector: direction(1), limit: 2, perCustomer: 2 });
      expect(found.map((c) => c.customerId)).toEqual(["best", "second"]);
      expect(found[0]!.events).toHaveLength(2);
      expect(found[1]!.events).toHaveLength(2);
      for (const c of found) {
        expect(c.events.every((e) => e.customerId === c.customerId)).toBe(true);
        expect(c.score).toBeCloseTo(c.events[0]!.score, 5);
      }
      const convertedOnly = await store.searchCustomers({ vector: direction(1), limit: 5, perCustomer: 1, stages: ["conversion"] });
      expect(convertedOnly).toEqual([]);
    });

    test("similarCustomers ranks the behaviourally similar customer first and excludes the customer itself", async () => {
      const store = await openStore();
      await store.upsert([
        point({ customerId: "alice", axis: 0, day: 1 }),
        point({ customerId: "alice", axis: 1, day: 2 }),
        point({ customerId: "twin", axis: 0, wobble: 0.1, day: 1 }),
        point({ customerId: "twin", axis: 1, wobble: 0.1, day: 3 }),
        point({ customerId: "other", axis: 4, day: 1 }),
        point({ customerId: "other", axis: 5, day: 2 }),
        // Long ago like alice, lately elsewhere: recency weighting must put it below twin.
        point({ customerId: "drifted", axis: 0, day: -400 }),
        point({ customerId: "drifted", axis: 1, day: -400 }),
        point({ customerId: "drifted", axis: 6, day: 3 }),
      ]);
      const similar = await store.similarCustomers("alice", 3);
      expect(similar[0]!.customerId).toBe("twin");
      expect(similar.map((s) => s.customerId)).not.toContain("alice");
      expect(similar.findIndex((s) => s.customerId === "drifted")).toBeGreaterThan(0);
      expect(await store.similarCustomers("nobody", 3)).toEqual([]);
    });

    test("reassignCustomer moves an anonymous id's points under the customer and merges its vector", async () => {
      const store = await openStore();
      const anon = [point({ customerId: "anon-1", axis: 2 }), point({ customerId: "anon-1", axis: 2, wobble: 0.1 })];
      const known = point({ customerId: "cust-1", axis: 3 });
      await store.upsert([...anon, known, point({ customerId: "peer", axis: 2 })]);
      await store.reassignCustomer("anon-1", "cust-1");
      expect(await store.count("anon-1")).toBe(0);
      expect(await store.count("cust-1")).toBe(3);
      const hits = await store.search({ vector: direction(2), customerId: "cust-1", limit: 10 });
      expect(hits).toHaveLength(3);
      expect(hits.slice(0, 2).map((h) => h.id).sort()).toEqual(anon.map((p) => p.id).sort());
      expect(hits.every((h) => h.customerId === "cust-1")).toBe(true);
      expect(await store.search({ vector: direction(2), customerId: "anon-1", limit: 10 })).toEqual([]);
      expect((await store.similarCustomers("cust-1", 1))[0]!.customerId).toBe("peer");
      expect(await store.similarCustomers("anon-1", 1)).toEqual([]);
    });

    test("deleteCustomer erases every point and the customer vector; other customers stay intact", async () => {
      const store = await openStore();
      await store.upsert([
        point({ customerId: "erase-me", axis: 0 }),
        point({ customerId: "erase-me", axis: 1 }),
        point({ customerId: "keep", axis: 0 }),
        point({ customerId: "also-keep", axis: 1 }),
      ]);
      expect(await store.deleteCustomer("erase-me")).toBe(2);
      expect(await store.count("erase-me")).toBe(0);
      expect(await store.count()).toBe(2);
      const all = await store.search({ vector: direction(0), limit: 10 });
      expect(all.map((h) => h.customerId).sort()).toEqual(["also-keep", "keep"]);
      expect(await store.similarCustomers("erase-me", 5)).toEqual([]);
      expect((await store.similarCustomers("keep", 5)).map((s) => s.customerId)).toEqual(["also-keep"]);
      expect(await store.deleteCustomer("erase-me")).toBe(0);
    });

    test("points survive close and reopen", async () => {
      const first = await openStore();
      const p = point({ customerId: "durable", axis: 7, stage: "post_conversion" });
      await first.upsert([p, point({ customerId: "durable", axis: 6 })]);
      await first.close();
      const second = await openStore();
      expect(await second.count()).toBe(2);
      const hits = await second.search({ vector: direction(7), customerId: "durable", limit: 1 });
      expect(hits[0]).toMatchObject({ id: p.id, customerId: "durable", payload: p.payload });
      expect((await second.similarCustomers("durable", 1))).toEqual([]);
      await second.upsert([p]);
      expect(await second.count()).toBe(2);
    });

    describe("two instances on the same memory (e.g. the API and a worker)", () => {
      test("upserts through one are found by the other's searches", async () => {
        const [writer, reader] = [await openStore(), await openStore()];
        expect(await reader.count()).toBe(0);
        const p = point({ customerId: "shared", axis: 3 });
        await writer.upsert([p]);
        expect((await reader.search({ vector: direction(3), limit: 5 })).map((h) => h.id)).toEqual([p.id]);
        expect((await reader.search({ vector: direction(3), customerId: "shared", limit: 5 })).map((h) => h.id)).toEqual([p.id]);
        expect(await reader.count("shared")).toBe(1);
      });

      test("a redelivery through one replaces the point in the other instead of duplicating it", async () => {
        const [writer, reader] = [await openStore(), await openStore()];
        const p = point({ customerId: "shared", axis: 3 });
        await writer.upsert([p]);
        expect(await reader.count()).toBe(1);
        await writer.upsert([{ ...p, payload: { ...p.payload, text: "redelivered" } }]);
        const hits = await reader.search({ vector: direction(3), limit: 5 });
        expect(hits.map((h) => [h.id, h.payload.text])).toEqual([[p.id, "redelivered"]]);
        expect(await reader.count()).toBe(1);
      });

      test("both instances write and neither loses the other's writes", async () => {
        const [a, b] = [await openStore(), await openStore()];
        const fromA = Array.from({ length: 30 }, (_, i) => point({ customerId: `a-${i % 3}`, axis: i }));
        const fromB = Array.from({ length: 30 }, (_, i) => point({ customerId: `b-${i % 3}`, axis: i }));
        await Promise.all([
          ...fromA.map((p) => a.upsert([p])),
          ...fromB.map((p) => b.upsert([p])),
        ]);
        expect(await a.count()).toBe(60);
        expect(await b.count()).toBe(60);
        expect(await a.count("b-1")).toBe(10);
        expect(await b.count("a-2")).toBe(10);
      });

      test("a reassignment through one moves the points and the customer vector in the other", async () => {
        const [writer, reader] = [await openStore(), await openStore()];
        const anon = point({ customerId: "anon-x", axis: 2 });
        await writer.upsert([anon, point({ customerId: "cust-x", axis: 3 }), point({ customerId: "peer", axis: 2 })]);
        expect(await reader.count("anon-x")).toBe(1);
        await writer.reassignCustomer("anon-x", "cust-x");
        // A point for the anonymous id after the stitch stays under it in both.
        const later = point({ customerId: "anon-x", axis: 5 });
        await writer.upsert([later]);
        expect(await reader.count("cust-x")).toBe(2);
        expect((await reader.search({ vector: direction(5), customerId: "anon-x", limit: 5 })).map((h) => h.id)).toEqual([later.id]);
        const own = await reader.search({ vector: direction(2), customerId: "cust-x", limit: 5 });
        expect(own[0]!.id).toBe(anon.id);
        expect(own.every((h) => h.customerId === "cust-x")).toBe(true);
        expect((await reader.similarCustomers("cust-x", 1))[0]!.customerId).toBe("peer");
      });

      test("an erasure through one is complete in the other: no point, no payload, no customer vector", async () => {
        const [writer, reader] = [await openStore(), await openStore()];
        await writer.upsert([
          point({ customerId: "erase-me", axis: 0 }),
          point({ customerId: "erase-me", axis: 1 }),
          point({ customerId: "keep", axis: 0 }),
        ]);
        expect(await reader.count("erase-me")).toBe(2);
        expect(await writer.deleteCustomer("erase-me")).toBe(2);
        expect(await reader.count("erase-me")).toBe(0);
        const all = await reader.search({ vector: direction(0), limit: 10 });
        expect(all.map((h) => h.customerId)).toEqual(["keep"]);
        expect(await reader.search({ vector: direction(0), customerId: "erase-me", limit: 10 })).toEqual([]);
        expect(await reader.similarCustomers("erase-me", 5)).toEqual([]);
        expect((await reader.similarCustomers("keep", 5)).map((s) => s.customerId)).not.toContain("erase-me");
        expect((await reader.searchCustomers({ vector: direction(0), limit: 5, perCustomer: 1 })).map((c) => c.customerId)).toEqual(["keep"]);
      });
    });

    describe("customer vectors stay exact under concurrency and failures", () => {
      const { customerVector, failNextCustomerVectorWrite } = capabilities;
      const stored = (store: MemoryStore, customerId: string) => customerVector!(store, customerId);

      for (const customers of [1, 2, 3])
        test.if(Boolean(customerVector))(
          `two instances upserting events of ${customers} customer(s) in parallel, some twice: each vector equals the one recomputed from its events`,
          async () => {
            const [a, b] = [await openStore(), await openStore()];
            const points = Array.from({ length: 24 }, (_, i) => point({ customerId: `par-${i % customers}`, axis: i, wobble: 0.3, day: i % 5 }));
            const redelivered = points.filter((_, i) => i % 4 === 0);
            await Promise.all([...points, ...redelivered].map((p, i) => (i % 2 ? a : b).upsert([p])));
            expect(await a.count()).toBe(points.length);
            for (let c = 0; c < customers; c++) {
              const own = points.filter((p) => p.customerId === `par-${c}`);
              expectSameCustomerVector(await stored(b, `par-${c}`), recomputedCustomerVector(own));
            }
          },
        );

      for (const how of ["error", "late"] as const)
        test.if(Boolean(customerVector && failNextCustomerVectorWrite))(
          `(stores that write the customer vector apart from the events) a customer-vector write that failed (${how === "error" ? "answered 500" : "applied, answered after the client gave up"}), retried, counts its events once`,
          async () => {
            const store = await openStore();
            const earlier = point({ customerId: "retry", axis: 1, day: 1 });
            await store.upsert([earlier]);
            const p = point({ customerId: "retry", axis: 2, day: 2 });
            failNextCustomerVectorWrite!(how);
            await expect(store.upsert([p])).rejects.toThrow();
            // The job's retry: the same events again.
            await store.upsert([p]);
            expectSameCustomerVector(await stored(store, "retry"), recomputedCustomerVector([earlier, p]));
          },
        );

      test.if(Boolean(customerVector))("a reassignment repeated after a crash moves each event's weight once", async () => {
        const store = await openStore();
        const anon = [point({ customerId: "anon-r", axis: 1 }), point({ customerId: "anon-r", axis: 2, day: 1 })];
        const known = point({ customerId: "cust-r", axis: 3 });
        await store.upsert([...anon, known]);
        await store.reassignCustomer("anon-r", "cust-r");
        await store.reassignCustomer("anon-r", "cust-r");
        expectSameCustomerVector(await stored(store, "cust-r"), recomputedCustomerVector([...anon, known]));
        expect((await stored(store, "anon-r"))?.weight ?? 0).toBe(0);
      });
    });

    describe("two processes opening one new memory at once", () => {
      test("with the same model: both open, and each sees the other's writes", async () => {
        const [a, b] = await Promise.all([openStore(), openStore()]);
        await a.upsert([point({ customerId: "both", axis: 1 })]);
        expect(await b.count()).toBe(1);
      });

      test("with different models: exactly one opens, the other is refused with a reembed hint", async () => {
        const outcomes = await Promise.allSettled([openStore(), openStore({ ...CONTRACT_META, modelId: "a-racing-model" })]);
        expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
        const [refused] = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
        expect(refused!.reason).toBeInstanceOf(MemoryMismatchError);
        expect(String(refused!.reason.message)).toContain("bun run reembed");
      });
    });

    test("opening a memory with another embedding model or dimension is refused with a reembed hint", async () => {
      const first = await openStore();
      await first.upsert([point({ customerId: "c", axis: 0 })]);
      await first.close();
      const otherModel = open({ ...CONTRACT_META, modelId: "some-other-model" });
      expect(otherModel).rejects.toBeInstanceOf(MemoryMismatchError);
      expect(otherModel).rejects.toThrow(/bun run reembed/);
      await otherModel.catch(() => undefined);
      const otherDimensions = open({ ...CONTRACT_META, dimensions: 16 });
      expect(otherDimensions).rejects.toBeInstanceOf(MemoryMismatchError);
      await otherDimensions.catch(() => undefined);
      const same = await openStore();
      expect(await same.count()).toBe(1);
    });
  });
}
