import { expect, test } from "bun:test";
import { prepareEvent, type PrepareContext } from "../../pipelines/prepare-event";

const receivedAtMs = Date.UTC(2024, 0, 1, 12);
const ctx = (extra: Partial<PrepareContext> = {}): PrepareContext => ({
  receivedAtMs,
  maxEventBytes: 32 * 1024,
  futureToleranceMs: 23 * 3_600_000,
  newMessageId: () => "generated-id",
  ...extra,
});
const base = { type: "track", event: "Order Completed", userId: "u1", messageId: "m1" };

test("without sentAt the client's timestamp is kept and becomes originalTimestamp", () => {
  const r = prepareEvent({ ...base, timestamp: "2023-12-31T00:00:00Z" }, ctx());
  expect(r.ok && r.event.timestamp).toBe("2023-12-31T00:00:00.000Z");
  expect(r.ok && r.event.originalTimestamp).toBe("2023-12-31T00:00:00Z");
});

test("with sentAt the clock skew is removed: receivedAt − (sentAt − originalTimestamp)", () => {
  // device clock is 1 h fast: it created the event at 13:00 device time and sent it at 13:00:30
  const r = prepareEvent({ ...base, originalTimestamp: "2024-01-01T13:00:00Z", sentAt: "2024-01-01T13:00:30Z" }, ctx());
  expect(r.ok && r.event.timestamp).toBe("2024-01-01T11:59:30.000Z");
});

test("with no time at all the event is stamped with receivedAt", () => {
  const r = prepareEvent(base, ctx());
  expect(r.ok && r.event.timestamp).toBe(new Date(receivedAtMs).toISOString());
  expect(r.ok && r.event.receivedAt).toBe(new Date(receivedAtMs).toISOString());
});

test("the route's call type wins over the body's", () => {
  const r = prepareEvent({ ...base, type: "page" }, ctx({ forcedType: "track" }));
  expect(r.ok && r.event.type).toBe("track");
});

test("an event's own context fields win over the batch's, which fill the rest", () => {
  const r = prepareEvent({ ...base, context: { ip: "1" } }, ctx({ batchDefaults: { context: { ip: "2", locale: "fr" } } }));
  expect(r.ok && r.event.context).toEqual({ ip: "1", locale: "fr" });
});

test("numeric userIds are kept as their decimal text", () => {
  const r = prepareEvent({ ...base, userId: 12345 }, ctx());
  expect(r.ok && r.event.userId).toBe("12345");
});

test("multi-byte text is measured in UTF-8 bytes against the limit", () => {
  const emoji = "😀".repeat(3000); // 12,000 bytes, 6,000 UTF-16 units
  expect(prepareEvent({ ...base, properties: { emoji } }, ctx({ maxEventBytes: 11_000 })).ok).toBe(false);
  expect(prepareEvent({ ...base, properties: { emoji } }, ctx({ maxEventBytes: 13_000 })).ok).toBe(true);
});
