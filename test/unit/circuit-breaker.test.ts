import { beforeEach, expect, test } from "bun:test";
import { createCircuitBreaker, type CircuitBreaker } from "../../src/inference/circuit-breaker";

let nowMs: number;
let breaker: CircuitBreaker;
beforeEach(() => {
  nowMs = 0;
  breaker = createCircuitBreaker({ failureThreshold: 3, cooldownMs: 1_000, now: () => nowMs });
});

const fail = (times: number) => {
  for (let i = 0; i < times; i++) {
    expect(breaker.tryAcquire()).toBe(true);
    breaker.onFailure();
  }
};

test("stays closed below the failure threshold", () => {
  fail(2);
  expect(breaker.state()).toBe("closed");
  expect(breaker.tryAcquire()).toBe(true);
});

test("opens after N consecutive failures and refuses calls", () => {
  fail(3);
  expect(breaker.state()).toBe("open");
  expect(breaker.tryAcquire()).toBe(false);
  expect(breaker.retryInMs()).toBe(1_000);
});

test("a success in between resets the count: failures must be consecutive", () => {
  fail(2);
  breaker.onSuccess();
  fail(2);
  expect(breaker.state()).toBe("closed");
});

test("half-opens after the cooldown and lets exactly one trial through", () => {
  fail(3);
  nowMs = 999;
  expect(breaker.tryAcquire()).toBe(false);
  expect(breaker.retryInMs()).toBe(1);
  nowMs = 1_000;
  expect(breaker.state()).toBe("half_open");
  expect(breaker.tryAcquire()).toBe(true);
  expect(breaker.tryAcquire()).toBe(false); // a second caller while the trial is out
});

test("a successful trial closes the circuit", () => {
  fail(3);
  nowMs = 1_000;
  breaker.tryAcquire();
  breaker.onSuccess();
  expect(breaker.state()).toBe("closed");
  expect(breaker.tryAcquire()).toBe(true);
  fail(2); // and the count starts again from zero
  expect(breaker.state()).toBe("closed");
});

test("a failed trial reopens the circuit for a full cooldown", () => {
  fail(3);
  nowMs = 1_500;
  breaker.tryAcquire();
  breaker.onFailure();
  expect(breaker.state()).toBe("open");
  nowMs = 2_499;
  expect(breaker.tryAcquire()).toBe(false);
  nowMs = 2_500;
  expect(breaker.tryAcquire()).toBe(true);
});

test("failures of calls that started before it opened do not extend the cooldown", () => {
  fail(3);
  nowMs = 500;
  breaker.onFailure();
  nowMs = 1_000;
  expect(breaker.tryAcquire()).toBe(true);
});

test("a trial that never reports back does not wedge the circuit: another is allowed after a cooldown", () => {
  fail(3);
  nowMs = 1_000;
  expect(breaker.tryAcquire()).toBe(true);
  nowMs = 1_999;
  expect(breaker.tryAcquire()).toBe(false);
  nowMs = 2_000;
  expect(breaker.tryAcquire()).toBe(true);
});

test("with maxCooldownMs each failed trial doubles the cooldown up to the cap; a success resets it", () => {
  breaker = createCircuitBreaker({ failureThreshold: 1, cooldownMs: 1_000, maxCooldownMs: 3_000, now: () => nowMs });
  const waits: number[] = [];
  fail(1);
  for (let trial = 0; trial < 4; trial++) {
    waits.push(breaker.retryInMs());
    nowMs += breaker.retryInMs();
    expect(breaker.tryAcquire()).toBe(true);
    breaker.onFailure();
  }
  expect(waits).toEqual([1_000, 2_000, 3_000, 3_000]);
  nowMs += breaker.retryInMs();
  breaker.tryAcquire();
  breaker.onSuccess();
  fail(1);
  expect(breaker.retryInMs()).toBe(1_000);
});

test("rejects a threshold below 1", () => {
  expect(() => createCircuitBreaker({ failureThreshold: 0, cooldownMs: 1 })).toThrow(RangeError);
});
