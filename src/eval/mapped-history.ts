/**
 * What each customer did, read from the events a mapping makes, the way the system reads them:
 * each event is prepared as the API prepares it and cleaned as the workers clean it, then filed
 * under the customer the workers file it under (its userId; an anonymousId linked to a userId by
 * an event carrying both; else the anonymous visitor). Orders ("Order Completed", whatever the
 * mapping called them) become purchases with their products; product views, cart and wishlist
 * adds and ordered products become item events. No code per data set: any mapping works.
 */
import { cleanEvent } from "../../pipelines/clean-event";
import type { HistoryPurchase } from "../../pipelines/churn-features";
import { prepareEvent } from "../../pipelines/prepare-event";
import type { RecEvent, RecKind } from "../../pipelines/recommend";
import { runImport } from "../import/import-run";
import type { Mapping } from "../import/mapping";
import { ANONYMOUS_PREFIX } from "../profiles/profile-store";

export const ORDER_EVENT = "Order Completed";

/** Clean event names whose products are item events for the recommender, and their kind. */
const ITEM_KIND: Record<string, RecKind> = {
  "Product Viewed": "view",
  "Product Added": "cart",
  "Product Added to Wishlist": "wishlist",
  [ORDER_EVENT]: "purchase",
};

export type MappedCustomer = { purchases: HistoryPurchase[]; items: RecEvent[] };

export type MappedHistories = {
  /** by customer id as the system files it (`anon:<anonymousId>` for a visitor never linked) */
  customers: Map<string, MappedCustomer>;
  /** The customer an event (as the mapping made it) belongs to. */
  customerOf(event: Record<string, unknown>): string;
  /** events the API would accept and the workers keep (a repeated order or product event counted once) */
  events: number;
  /** events the API would refuse or the workers drop (counted, left out) */
  unusable: number;
  orders: number;
  firstEventMs: number;
  lastEventMs: number;
};

/** The limits the API applies when it accepts an event (config LIFELINE_MAX_EVENT_BYTES, LIFELINE_FUTURE_TOLERANCE_HOURS). */
export type AcceptLimits = { maxEventBytes: number; futureToleranceMs: number };

export async function readMappedHistories(mapping: Mapping, files: string[], limits: AcceptLimits, rejectsPath: string): Promise<MappedHistories> {
  const links = new Map<string, string>();
  const byKey = new Map<string, MappedCustomer>();
  const seen = new Set<string>();
  let events = 0;
  let unusable = 0;
  let orders = 0;
  let firstEventMs = Number.POSITIVE_INFINITY;
  let lastEventMs = Number.NEGATIVE_INFINITY;
  const receivedAtMs = Date.now();

  const take = (raw: unknown) => {
    const prepared = prepareEvent(raw, { receivedAtMs, ...limits, newMessageId: () => crypto.randomUUID() });
    const cleaned = prepared.ok ? cleanEvent(prepared.event) : undefined;
    if (!cleaned?.ok) return void unusable++;
    const e = cleaned.event;
    const kind = ITEM_KIND[e.name];
    // The system stores one event per messageId; only the events kept here need remembering.
    if (kind) {
      if (seen.has(e.messageId)) return;
      seen.add(e.messageId);
    }
    events++;
    if (e.ts < firstEventMs) firstEventMs = e.ts;
    if (e.ts > lastEventMs) lastEventMs = e.ts;
    // The first link wins, as in the workers' identity stitching.
    const linkedFrom = e.type === "alias" ? e.properties.previousId : e.anonymousId;
    if (e.userId && typeof linkedFrom === "string" && linkedFrom !== e.userId && !links.has(linkedFrom)) links.set(linkedFrom, e.userId);
    if (!kind) return;
    const key = e.userId ?? ANONYMOUS_PREFIX + e.anonymousId;
    const customer = byKey.get(key) ?? byKey.set(key, { purchases: [], items: [] }).get(key)!;
    for (const p of e.products) customer.items.push({ ts: e.ts, itemId: p.id, kind, quantity: p.quantity });
    if (kind === "purchase") {
      orders++;
      customer.purchases.push({ ts: e.ts, amount: e.revenue ?? 0, messageId: e.messageId, products: e.products.map((p) => p.id) });
    }
  };

  await runImport({ mapping, files, dryRun: true, rejectsPath, showProgress: false, onEvent: take });

  const customerOf = (event: Record<string, unknown>) => {
    if (typeof event.userId === "string" && event.userId) return event.userId;
    const anonymousId = String(event.anonymousId);
    return links.get(anonymousId) ?? ANONYMOUS_PREFIX + anonymousId;
  };
  // A visitor linked later in the files is part of the customer, as after the workers' merge.
  const customers = new Map<string, MappedCustomer>();
  for (const [key, c] of byKey) {
    const id = key.startsWith(ANONYMOUS_PREFIX) ? customerOf({ anonymousId: key.slice(ANONYMOUS_PREFIX.length) }) : key;
    const into = customers.get(id);
    if (!into) customers.set(id, c);
    else into.purchases.push(...c.purchases), into.items.push(...c.items);
  }
  for (const c of customers.values()) {
    c.purchases.sort((a, b) => a.ts - b.ts || (a.messageId < b.messageId ? -1 : 1));
    c.items.sort((a, b) => a.ts - b.ts);
  }
  return { customers, customerOf, events, unusable, orders, firstEventMs, lastEventMs };
}
