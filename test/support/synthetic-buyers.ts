/**
 * Customers simulated from known BG/NBD and Gamma-Gamma parameters (deterministic seed), so
 * tests can check that fitting recovers the parameters and that intervals cover.
 */
import type { BgnbdParams } from "../../pipelines/bgnbd";
import type { CustomerHistory } from "../../pipelines/churn-features";
import type { GammaGammaParams } from "../../pipelines/gamma-gamma";

export const DAY_MS = 86_400_000;

export function randomSource(seed: number) {
  let a = seed >>> 0;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
  /** Gamma(shape, rate) by Marsaglia and Tsang. */
  const gamma = (shape: number, rate = 1): number => {
    if (shape < 1) return gamma(shape + 1, rate) * Math.pow(uniform(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      const x = normal();
      const v = (1 + c * x) ** 3;
      if (v <= 0) continue;
      if (Math.log(uniform()) < 0.5 * x * x + d - d * v + d * Math.log(v)) return (d * v) / rate;
    }
  };
  const beta = (a: number, b: number) => {
    const x = gamma(a);
    return x / (x + gamma(b));
  };
  return { uniform, normal, gamma, beta };
}

export type SyntheticOptions = {
  customers: number;
  bgnbd: BgnbdParams;
  spend: GammaGammaParams;
  /** First purchases spread uniformly over this many weeks from `startMs`. */
  acquisitionWeeks: number;
  /** Weeks simulated from `startMs`. */
  totalWeeks: number;
  startMs?: number;
  seed?: number;
  /** Customers slow down with age: the rate falls by e every this many weeks after the first purchase (BG/NBD assumes it constant). */
  slowdownWeeks?: number;
};

/** Purchase times at whole days (BG/NBD's resolution), one purchase per day at most. */
export function simulateBuyers(o: SyntheticOptions): CustomerHistory[] {
  const rnd = randomSource(o.seed ?? 7);
  const startMs = o.startMs ?? Date.UTC(2020, 0, 1);
  const endMs = startMs + o.totalWeeks * 7 * DAY_MS;
  const out: CustomerHistory[] = [];
  for (let c = 0; c < o.customers; c++) {
    const base = rnd.gamma(o.bgnbd.r, o.bgnbd.alpha); // per week
    const p = rnd.beta(o.bgnbd.a, o.bgnbd.b);
    const nu = rnd.gamma(o.spend.q, o.spend.gamma);
    const firstDay = Math.floor(rnd.uniform() * o.acquisitionWeeks * 7);
    const days = [firstDay];
    let t = firstDay / 7;
    for (;;) {
      // a slowing customer's next gap is drawn at their current rate (piecewise, per purchase)
      const lambda = o.slowdownWeeks ? base * Math.exp(-(t - firstDay / 7) / o.slowdownWeeks) : base;
      t += -Math.log(rnd.uniform()) / lambda;
      const day = Math.floor(t * 7);
      if (startMs + day * DAY_MS >= endMs) break;
      if (day !== days.at(-1)) days.push(day);
      if (rnd.uniform() < p) break;
    }
    const purchases = days.map((d, i) => ({ ts: startMs + d * DAY_MS, amount: rnd.gamma(o.spend.p, nu), messageId: `syn-${c}-${i}` }));
    out.push({ customerId: `syn-${c}`, firstSeenMs: purchases[0]!.ts, purchases, events: [] });
  }
  return out;
}
