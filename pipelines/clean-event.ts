import { z } from "zod";
import { defaultVocabulary, knownEventName, normaliseEventName, type EventVocabulary } from "./event-names";
import { parseIsoTime } from "./iso-time";
import { defaultStageRules, lifecycleStage, lifecycleStages, type StageRules } from "./lifecycle-stage";
import { eventTypes, type StoredEvent } from "./segment";

export const cleanFlags = [
  "timestamp_in_future",
  "message_id_generated",
  "name_unknown",
  "revenue_computed",
] as const;
export type CleanFlag = (typeof cleanFlags)[number];

export const cleanProductSchema = z.object({
  id: z.string().min(1),
  name: z.string().optional(),
  category: z.string().optional(),
  price: z.number().nonnegative().optional(),
  quantity: z.number().int().positive(),
});
export type CleanProduct = z.infer<typeof cleanProductSchema>;

export const cleanEventSchema = z.object({
  messageId: z.string().min(1),
  type: z.enum(eventTypes),
  /** Normalised: "Order Completed", "Page Viewed", "Identify", or an unknown name in Title Case. */
  name: z.string().min(1),
  userId: z.string().optional(),
  anonymousId: z.string().optional(),
  /** Event time, epoch ms. */
  ts: z.number().int(),
  /** When Lifeline accepted the event, epoch ms. */
  receivedAt: z.number().int(),
  properties: z.record(z.string(), z.unknown()),
  traits: z.record(z.string(), z.unknown()).optional(),
  products: z.array(cleanProductSchema),
  revenue: z.number().optional(),
  currency: z.string().regex(/^[A-Z]{3}$/).optional(),
  /** Provisional: computed from the caller's `hasPurchasedBefore`; the profile reducer re-derives it. */
  stage: z.enum(lifecycleStages),
  flags: z.array(z.enum(cleanFlags)),
});
export type CleanEvent = z.infer<typeof cleanEventSchema>;

export type CleanResult = { ok: true; event: CleanEvent; fixes: string[] } | { ok: false; reason: string };

export type StageContext = { rules: StageRules; hasPurchasedBefore: boolean };

/** Dates before this are SDK clock bugs (devices reset to 1970), not customer history. */
const EARLIEST_PLAUSIBLE_MS = Date.UTC(2000, 0, 1);
const NON_NEGATIVE_AMOUNTS = ["price", "revenue", "total", "subtotal"] as const;
const SIGNED_AMOUNTS = ["value", "tax", "shipping", "discount"] as const;
/** Events whose revenue Lifeline computes from the products when the producer left it out. */
const ORDER_EVENTS = new Set(["Order Completed", "Order Updated", "Order Refunded", "Order Cancelled", "Checkout Started"]);
/** Product events that carry one product's fields at the top level of properties. */
const SINGLE_PRODUCT = /^Product (Viewed|Clicked|Added|Removed|Shared|Reviewed|Added to Wishlist|Removed from Wishlist)$/;

/**
 * Normalises one stored event: canonical name, epoch times, numbers that were strings,
 * upper-case currency, products in one shape, order revenue. Each change or drop is listed in
 * `fixes`; events that cannot be used at all come back as `ok: false`.
 */
export function cleanEvent(
  event: StoredEvent,
  vocab: EventVocabulary = defaultVocabulary,
  stageContext: StageContext = { rules: defaultStageRules, hasPurchasedBefore: false },
): CleanResult {
  const fixes: string[] = [];
  if (!event.messageId) return { ok: false, reason: "messageId: missing" };
  const userId = event.userId ?? undefined;
  const anonymousId = event.anonymousId ?? undefined;
  if (!userId && !anonymousId) return { ok: false, reason: "userId or anonymousId is required" };

  const times = resolveTimes(event, fixes);
  if (!times.ok) return times;

  const named = nameOf(event, vocab);
  if (!named.ok) return named;

  const flags: CleanFlag[] = [...(event._lifeline?.flags ?? [])];
  if (named.isUnknown) flags.push("name_unknown");

  const properties = cleanProperties(rawProperties(event), fixes);
  const products = productsOf(named.name, properties, fixes);
  delete properties.products;
  const money = revenueOf(named.name, properties, products, fixes);
  if (money.isComputed) flags.push("revenue_computed");

  const clean: CleanEvent = {
    messageId: event.messageId,
    type: event.type,
    name: named.name,
    ...(userId ? { userId } : {}),
    ...(anonymousId ? { anonymousId } : {}),
    ts: times.ts,
    receivedAt: times.receivedAt,
    properties,
    ...(event.type === "identify" ? { traits: { ...(event.traits ?? {}) } } : {}),
    products,
    ...(money.revenue !== undefined ? { revenue: money.revenue } : {}),
    ...(typeof properties.currency === "string" ? { currency: properties.currency } : {}),
    stage: lifecycleStage(named.name, stageContext.hasPurchasedBefore, stageContext.rules, properties),
    flags,
  };
  return { ok: true, event: clean, fixes };
}

type Times = { ok: true; ts: number; receivedAt: number } | { ok: false; reason: string };

function resolveTimes(event: StoredEvent, fixes: string[]): Times {
  const ts = parseIsoTime(event.timestamp ?? "");
  const received = parseIsoTime(event.receivedAt ?? "");
  if (Number.isNaN(received)) {
    if (Number.isNaN(ts)) return { ok: false, reason: "timestamp and receivedAt: neither is a usable date-time" };
    fixes.push(`receivedAt: ${JSON.stringify(event.receivedAt)} is not a date-time; using timestamp`);
    return { ok: true, ts, receivedAt: ts };
  }
  if (Number.isNaN(ts)) {
    fixes.push(`timestamp: ${JSON.stringify(event.timestamp)} is not a date-time; using receivedAt`);
    return { ok: true, ts: received, receivedAt: received };
  }
  // A future or pre-2000 time would pin the profile's lastSeen/firstSeen forever.
  if (event._lifeline?.flags.includes("timestamp_in_future")) {
    fixes.push(`timestamp: ${event.timestamp} is in the future; using receivedAt`);
    return { ok: true, ts: received, receivedAt: received };
  }
  // Only a live client's clock (an event sent with sentAt) can have been reset; without sentAt
  // the time is kept as sent (historical imports: CDNOW is from 1997).
  if (ts < EARLIEST_PLAUSIBLE_MS && event.sentAt !== undefined) {
    fixes.push(`timestamp: ${event.timestamp} is before 2000 (device clock reset?); using receivedAt`);
    return { ok: true, ts: received, receivedAt: received };
  }
  return { ok: true, ts, receivedAt: received };
}

type Named = { ok: true; name: string; isUnknown: boolean } | { ok: false; reason: string };

function nameOf(event: StoredEvent, vocab: EventVocabulary): Named {
  switch (event.type) {
    case "page":
      return { ok: true, name: "Page Viewed", isUnknown: false };
    case "screen":
      return { ok: true, name: "Screen Viewed", isUnknown: false };
    case "identify":
      return { ok: true, name: "Identify", isUnknown: false };
    case "group":
      return { ok: true, name: "Group", isUnknown: false };
    case "alias":
      return { ok: true, name: "Alias", isUnknown: false };
    case "track": {
      const name = normaliseEventName(event.event, vocab);
      if (!name) return { ok: false, reason: "event: name is empty" };
      return { ok: true, name, isUnknown: knownEventName(event.event, vocab) === undefined };
    }
  }
}

function rawProperties(event: StoredEvent): Record<string, unknown> {
  switch (event.type) {
    case "track":
      return { ...(event.properties ?? {}) };
    case "page":
    case "screen": {
      const props: Record<string, unknown> = { ...(event.properties ?? {}) };
      if (event.name) props.name = event.name;
      if (event.category) props.category = event.category;
      return props;
    }
    case "group":
      return { groupId: event.groupId, ...(event.traits ? { group: { ...event.traits } } : {}) };
    case "alias":
      return { previousId: event.previousId };
    case "identify":
      return {};
  }
}

function cleanProperties(props: Record<string, unknown>, fixes: string[]): Record<string, unknown> {
  for (const key of NON_NEGATIVE_AMOUNTS) cleanNumberField(props, key, key, fixes, { isNonNegative: true });
  for (const key of SIGNED_AMOUNTS) cleanNumberField(props, key, key, fixes, { isNonNegative: false });
  if ("quantity" in props) cleanQuantityField(props, "quantity", fixes);
  if ("currency" in props) {
    const currency = currencyOf(props.currency);
    if (currency === undefined) {
      fixes.push(`currency: ${JSON.stringify(props.currency)} is not a 3-letter ISO 4217 code; dropped`);
      delete props.currency;
    } else {
      if (currency !== props.currency) fixes.push(`currency: ${JSON.stringify(props.currency)} → "${currency}"`);
      props.currency = currency;
    }
  }
  return props;
}

function cleanNumberField(
  obj: Record<string, unknown>,
  key: string,
  label: string,
  fixes: string[],
  opts: { isNonNegative: boolean },
): void {
  if (!(key in obj)) return;
  const raw = obj[key];
  if (raw === null || raw === undefined || raw === "") {
    delete obj[key];
    return;
  }
  const value = parseNumber(raw);
  if (value === undefined) {
    fixes.push(`${label}: ${JSON.stringify(raw)} is not a number; dropped`);
    delete obj[key];
  } else if (opts.isNonNegative && value < 0) {
    fixes.push(`${label}: ${value} is negative; dropped`);
    delete obj[key];
  } else {
    if (typeof raw !== "number") fixes.push(`${label}: ${JSON.stringify(raw)} → ${value}`);
    obj[key] = value;
  }
}

/** Leaves `obj[key]` a positive integer or removes it. */
function cleanQuantityField(obj: Record<string, unknown>, key: string, fixes: string[], label = key): void {
  const raw = obj[key];
  if (raw === null || raw === undefined || raw === "") {
    delete obj[key];
    return;
  }
  const value = parseNumber(raw);
  if (value === undefined || !Number.isInteger(value) || value < 1) {
    fixes.push(`${label}: ${JSON.stringify(raw)} is not a positive whole number; dropped`);
    delete obj[key];
    return;
  }
  if (typeof raw !== "number") fixes.push(`${label}: ${JSON.stringify(raw)} → ${value}`);
  obj[key] = value;
}

const PLAIN = /^[-+]?\d+(\.\d+)?$/;
const THOUSANDS_COMMA = /^[-+]?\d{1,3}(,\d{3})+(\.\d+)?$/;
const THOUSANDS_DOT = /^[-+]?\d{1,3}(\.\d{3})+,\d+$/;
const DECIMAL_COMMA = /^[-+]?\d+,\d{1,2}$/;
const CURRENCY_AFFIX = /^[$£€¥]\s*|\s*[$£€¥]$|\s+[A-Za-z]{3}$|^[A-Za-z]{3}\s+/g;

/**
 * A finite number from a number or numeric text: "12.50", "1,200.00", "1.200,50", "12,5",
 * "$12.50", "12.50 USD". Anything else (booleans, "abc", "1e400") is undefined.
 */
export function parseNumber(raw: unknown): number | undefined {
  if (typeof raw === "number") return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw !== "string") return undefined;
  const text = raw.trim().replace(CURRENCY_AFFIX, "").replace(/\s/g, "");
  let normal: string | undefined;
  if (PLAIN.test(text)) normal = text;
  else if (THOUSANDS_COMMA.test(text)) normal = text.replace(/,/g, "");
  else if (THOUSANDS_DOT.test(text)) normal = text.replace(/\./g, "").replace(",", ".");
  else if (DECIMAL_COMMA.test(text)) normal = text.replace(",", ".");
  if (normal === undefined) return undefined;
  const value = Number(normal);
  return Number.isFinite(value) ? value : undefined;
}

function currencyOf(raw: unknown): string | undefined {
  if (typeof raw !== "string") return undefined;
  const code = raw.trim().toUpperCase();
  return /^[A-Z]{3}$/.test(code) ? code : undefined;
}

function productsOf(name: string, props: Record<string, unknown>, fixes: string[]): CleanProduct[] {
  if ("products" in props && props.products !== undefined && props.products !== null) {
    if (!Array.isArray(props.products)) {
      fixes.push("products: not an array; dropped");
      return [];
    }
    return props.products.flatMap((item, i) => {
      const product = productOf(item, `products[${i}]`, fixes);
      return product ? [product] : [];
    });
  }
  if (!SINGLE_PRODUCT.test(name)) return [];
  const product = productOf(props, "product", fixes);
  return product ? [product] : [];
}

function productOf(item: unknown, label: string, fixes: string[]): CleanProduct | undefined {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    fixes.push(`${label}: not an object; dropped`);
    return undefined;
  }
  const fields = { ...(item as Record<string, unknown>) };
  const name = text(fields.name);
  const category = text(fields.category);
  let id = text(fields.product_id) ?? text(fields.productId) ?? text(fields.id) ?? text(fields.sku);
  if (!id) {
    if (!name) {
      fixes.push(`${label}: no product_id, sku or name; dropped`);
      return undefined;
    }
    fixes.push(`${label}: no product_id or sku; using its name as id`);
    id = name;
  }
  cleanNumberField(fields, "price", `${label}.price`, fixes, { isNonNegative: true });
  if ("quantity" in fields) cleanQuantityField(fields, "quantity", fixes, `${label}.quantity`);
  const price = fields.price as number | undefined;
  return {
    id,
    ...(name ? { name } : {}),
    ...(category ? { category } : {}),
    ...(price !== undefined ? { price } : {}),
    quantity: (fields.quantity as number | undefined) ?? 1,
  };
}

/** Trimmed non-empty text of a string or number id/label. */
function text(raw: unknown): string | undefined {
  if (typeof raw === "number" && Number.isFinite(raw)) return String(raw);
  if (typeof raw !== "string") return undefined;
  const t = raw.trim();
  return t || undefined;
}

function revenueOf(
  name: string,
  props: Record<string, unknown>,
  products: CleanProduct[],
  fixes: string[],
): { revenue?: number; isComputed: boolean } {
  if (typeof props.revenue === "number") return { revenue: props.revenue, isComputed: false };
  if (typeof props.total === "number") return { revenue: props.total, isComputed: false };
  if (!ORDER_EVENTS.has(name)) return { isComputed: false };
  if (products.length === 0) {
    fixes.push("revenue: missing and no products to compute it from");
    return { isComputed: false };
  }
  if (products.some((p) => p.price === undefined)) {
    fixes.push("revenue: missing and some products have no price; not computed");
    return { isComputed: false };
  }
  // Cents: summing binary floats (6 × 2.55) would otherwise give 15.299999999999999.
  const revenue = Math.round(products.reduce((sum, p) => sum + p.price! * p.quantity, 0) * 100) / 100;
  fixes.push(`revenue: missing; computed ${revenue} from products`);
  return { revenue, isComputed: true };
}
