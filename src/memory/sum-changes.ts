import { createHash } from "node:crypto";
import { applyEvent, type CustomerVector } from "./customer-vector";

/**
 * Which version of an event a customer's sums hold: its time and its rendered text. Under one
 * embedding model the vector is a function of the text, so this names the vector too, and unlike
 * the vector's bytes it survives Qdrant re-normalising what it stores.
 */
export function eventFingerprint(ts: number, text: string): string {
  return createHash("sha1").update(`${ts}\0${text}`).digest("base64url").slice(0, 16);
}

/** One version of an event: a unit vector at a time. */
export type CountedEvent = { pointId: string; vector: ArrayLike<number>; ts: number; fingerprint: string };

/**
 * `add`: the event belongs to this customer; `previous` is the copy stored before this write, when
 * it was this customer's too (a redelivery, maybe re-rendered). `remove`: the event left this
 * customer (stitched to another one); `event` is the copy that was stored under it.
 */
export type SumChange = { op: "add"; event: CountedEvent; previous?: CountedEvent } | { op: "remove"; event: CountedEvent };

export type SumsPlan = {
  /** point id → fingerprint to record, and point ids the sums no longer count. */
  counted: Map<string, string>;
  uncounted: string[];
  isChanged: boolean;
};

/**
 * Applies changes to a customer's sums (`cv`, in place) so each event counts at most once, and
 * once with the version the customer's ledger (`counted`: point id → fingerprint) says it holds.
 * A replay of a change already applied changes nothing, which makes a retried write exact.
 */
export function planSumChanges(cv: CustomerVector, counted: ReadonlyMap<string, string>, changes: SumChange[], halfLifeMs: number): SumsPlan {
  const ledger = new Map(counted);
  const written = new Map<string, string>();
  const uncounted = new Set<string>();
  const record = (pointId: string, fingerprint: string | undefined) => {
    if (fingerprint === undefined) {
      ledger.delete(pointId);
      written.delete(pointId);
      uncounted.add(pointId);
    } else {
      ledger.set(pointId, fingerprint);
      written.set(pointId, fingerprint);
      uncounted.delete(pointId);
    }
  };
  for (const change of changes) {
    const { event } = change;
    const held = ledger.get(event.pointId);
    if (change.op === "remove") {
      if (held === undefined) continue;
      // The copy at hand is the version held, except after a race of two re-rendered deliveries;
      // its weight is the same either way (same time), so removing it empties the customer right.
      applyEvent(cv, event.vector, event.ts, halfLifeMs, -1);
      record(event.pointId, undefined);
    } else if (held === event.fingerprint) {
      continue;
    } else if (held === undefined) {
      applyEvent(cv, event.vector, event.ts, halfLifeMs, 1);
      record(event.pointId, event.fingerprint);
    } else if (change.previous && held === change.previous.fingerprint) {
      applyEvent(cv, change.previous.vector, change.previous.ts, halfLifeMs, -1);
      applyEvent(cv, event.vector, event.ts, halfLifeMs, 1);
      record(event.pointId, event.fingerprint);
    }
    // Otherwise the sums hold a version of this event whose vector is not at hand (two deliveries
    // rendered differently raced): it keeps counting once, with that version.
  }
  return { counted: written, uncounted: [...uncounted], isChanged: written.size > 0 || uncounted.size > 0 };
}
