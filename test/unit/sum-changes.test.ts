import { expect, test } from "bun:test";
import { applyEvent, emptyCustomerVector, type CustomerVector } from "../../src/memory/customer-vector";
import { eventFingerprint, planSumChanges, type CountedEvent } from "../../src/memory/sum-changes";

const HALF_LIFE = 30 * 24 * 3600 * 1000;
const T0 = Date.UTC(2026, 0, 1);

function event(pointId: string, axis: number, text = `text ${axis}`, ts = T0): CountedEvent {
  const vector = new Float32Array(4);
  vector[axis] = 1;
  return { pointId, vector, ts, fingerprint: eventFingerprint(ts, text) };
}

/** The sums of exactly these events, computed from scratch. */
function expected(...events: CountedEvent[]): CustomerVector {
  const cv = emptyCustomerVector(4, 0);
  for (const e of events) applyEvent(cv, e.vector, e.ts, HALF_LIFE);
  return cv;
}

test("a new event is added and recorded in the ledger", () => {
  const cv = emptyCustomerVector(4, 0);
  const a = event("a", 0);
  const plan = planSumChanges(cv, new Map(), [{ op: "add", event: a }], HALF_LIFE);
  expect(cv).toEqual(expected(a));
  expect([...plan.counted]).toEqual([["a", a.fingerprint]]);
  expect(plan.isChanged).toBe(true);
});

test("an event the ledger already holds in this version changes nothing (a redelivery or a retry)", () => {
  const a = event("a", 0);
  const cv = expected(a);
  const plan = planSumChanges(cv, new Map([["a", a.fingerprint]]), [{ op: "add", event: a, previous: a }], HALF_LIFE);
  expect(plan.isChanged).toBe(false);
  expect(cv).toEqual(expected(a));
});

test("a re-rendered redelivery replaces the version the ledger holds", () => {
  const before = event("a", 0, "pre_conversion: Order Completed");
  const after = event("a", 1, "post_conversion: Order Completed");
  const cv = expected(before, event("b", 2));
  const plan = planSumChanges(cv, new Map([["a", before.fingerprint]]), [{ op: "add", event: after, previous: before }], HALF_LIFE);
  expect(cv.weight).toBeCloseTo(2, 12);
  expect(Array.from(cv.sum)).toEqual(Array.from(expected(after, event("b", 2)).sum));
  expect(plan.counted.get("a")).toBe(after.fingerprint);
});

test("when the ledger holds a version that is not at hand, the event keeps counting once with it", () => {
  const held = event("a", 0, "held");
  const cv = expected(held);
  const plan = planSumChanges(cv, new Map([["a", held.fingerprint]]), [{ op: "add", event: event("a", 1, "new"), previous: event("a", 2, "stored") }], HALF_LIFE);
  expect(plan.isChanged).toBe(false);
  expect(cv).toEqual(expected(held));
});

test("a removed event leaves the sums once; removing it again changes nothing", () => {
  const a = event("a", 0);
  const b = event("b", 1, "b", T0 + 86_400_000);
  const cv = expected(a, b);
  const first = planSumChanges(cv, new Map([["a", a.fingerprint], ["b", b.fingerprint]]), [{ op: "remove", event: a }], HALF_LIFE);
  expect(first.uncounted).toEqual(["a"]);
  // Weights are relative to each one's reference time; compare them at the same reference.
  const rest = expected(b);
  expect(cv.weight * 2 ** ((cv.refTs - rest.refTs) / HALF_LIFE)).toBeCloseTo(rest.weight, 9);
  const again = planSumChanges(cv, new Map([["b", b.fingerprint]]), [{ op: "remove", event: a }], HALF_LIFE);
  expect(again.isChanged).toBe(false);
});

test("removing the last event empties the customer exactly", () => {
  const a = event("a", 0);
  const cv = expected(a);
  planSumChanges(cv, new Map([["a", a.fingerprint]]), [{ op: "remove", event: a }], HALF_LIFE);
  expect(cv.weight).toBe(0);
  expect(Array.from(cv.sum)).toEqual([0, 0, 0, 0]);
});

test("the same event twice in one batch counts once", () => {
  const a = event("a", 0);
  const cv = emptyCustomerVector(4, 0);
  planSumChanges(cv, new Map(), [{ op: "add", event: a }, { op: "add", event: a }], HALF_LIFE);
  expect(cv).toEqual(expected(a));
});

test("the fingerprint names the time and text of an event", () => {
  expect(eventFingerprint(T0, "x")).toBe(eventFingerprint(T0, "x"));
  expect(eventFingerprint(T0, "x")).not.toBe(eventFingerprint(T0 + 1, "x"));
  expect(eventFingerprint(T0, "x")).not.toBe(eventFingerprint(T0, "y"));
});
