/**
 * A circuit breaker as a pure state machine (no timers: time comes from `now`).
 *
 *   closed ──N consecutive failures──▶ open ──cooldownMs──▶ half_open (one trial call)
 *   half_open ──trial succeeds──▶ closed      half_open ──trial fails──▶ open (cooldown again,
 *   doubled up to maxCooldownMs when set: a long outage is probed less and less often)
 *
 * Callers ask `tryAcquire()` before a call and report its end with `onSuccess()` or
 * `onFailure()`. While open, `tryAcquire()` is false so the caller answers without the
 * upstream; in half_open only the first caller gets the trial.
 */
export type BreakerState = "closed" | "open" | "half_open";

export type CircuitBreakerOptions = {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** Time the circuit stays open before one trial call is allowed. */
  cooldownMs: number;
  /** Each failed trial doubles the cooldown, up to this; a success resets it. @defaultValue cooldownMs (no growth) */
  maxCooldownMs?: number;
  /** @defaultValue Date.now */
  now?: () => number;
};

export type CircuitBreaker = {
  /** True when a call may go ahead now; in half_open, true for one caller until it reports back. */
  tryAcquire(): boolean;
  onSuccess(): void;
  onFailure(): void;
  /** The state as of now (an open circuit whose cooldown has passed reads half_open). */
  state(): BreakerState;
  /** Milliseconds until an open circuit lets a trial through; 0 otherwise. */
  retryInMs(): number;
};

export function createCircuitBreaker(opts: CircuitBreakerOptions): CircuitBreaker {
  if (!(opts.failureThreshold >= 1)) throw new RangeError("failureThreshold must be at least 1");
  if (!(opts.cooldownMs >= 0)) throw new RangeError("cooldownMs must not be negative");
  const now = opts.now ?? Date.now;
  const maxCooldownMs = Math.max(opts.cooldownMs, opts.maxCooldownMs ?? opts.cooldownMs);
  let cooldownMs = opts.cooldownMs;
  let failures = 0;
  let openedAtMs: number | undefined;
  let trialStartedAtMs: number | undefined;

  const state = (): BreakerState => {
    if (openedAtMs === undefined) return "closed";
    return now() - openedAtMs >= cooldownMs ? "half_open" : "open";
  };
  const open = () => {
    openedAtMs = now();
    trialStartedAtMs = undefined;
  };

  return {
    state,
    retryInMs: () => (state() === "open" ? cooldownMs - (now() - openedAtMs!) : 0),
    tryAcquire() {
      const s = state();
      if (s === "closed") return true;
      if (s === "open") return false;
      // A trial that never reported back (a caller that died) must not wedge the circuit:
      // after another cooldown a new trial is allowed.
      if (trialStartedAtMs !== undefined && now() - trialStartedAtMs < cooldownMs) return false;
      trialStartedAtMs = now();
      return true;
    },
    onSuccess() {
      failures = 0;
      cooldownMs = opts.cooldownMs;
      openedAtMs = undefined;
      trialStartedAtMs = undefined;
    },
    onFailure() {
      const s = state();
      if (s === "half_open") {
        cooldownMs = Math.min(maxCooldownMs, cooldownMs * 2);
        return open();
      }
      // Calls that started before the circuit opened may still fail; they must not extend the cooldown.
      if (s === "open") return;
      failures += 1;
      if (failures >= opts.failureThreshold) open();
    },
  };
}
