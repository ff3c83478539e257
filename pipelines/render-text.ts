import type { CleanEvent, CleanProduct } from "./clean-event";

const MAX_PRODUCTS = 5;
const MAX_VALUE_CHARS = 120;
const MAX_PATH_WORDS = 8;

/**
 * Properties that carry meaning for similarity, in the order they are written, and their label.
 * Ids, timestamps and tracking fields are left out on purpose: they make texts of the same
 * behaviour look different to an embedding model.
 */
const meaningfulProperties: ReadonlyArray<readonly [key: string, label: string]> = [
  ["query", "query"],
  ["plan", "plan"],
  ["previous_plan", "previous plan"],
  ["reason", "reason"],
  ["rating", "rating"],
  ["review_body", "review"],
  ["sentiment", "sentiment"],
  ["subject", "subject"],
  ["coupon", "coupon"],
  ["step", "step"],
  ["payment_method", "payment"],
  ["shipping_method", "shipping"],
  ["method", "method"],
];
/** Identify traits worth remembering; personal data (name, email, phone) is not. */
const meaningfulTraits: ReadonlyArray<readonly [key: string, label: string]> = [
  ["plan", "plan"],
  ["tier", "tier"],
  ["industry", "industry"],
];

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const EMAIL = /\S+@\S+\.\S+/g;
const URL_TEXT = /\bhttps?:\/\/\S+/gi;
const LONG_NUMBER = /\b\d{5,}\b/g;
const HEX_ID = /\b[0-9a-f]{16,}\b/gi;

/**
 * A short deterministic text of one event for embedding:
 * "conversion: Order Completed — WHITE HANGING HEART T-LIGHT HOLDER (home decor) x6, 15.30 GBP".
 */
export function renderEventText(event: CleanEvent): string {
  const parts = [
    ...pageParts(event),
    ...productParts(event.products),
    ...amountParts(event),
    ...labelled(event.properties, meaningfulProperties),
    ...(event.products.length === 0 && !isPage(event) ? labelled(event.properties, [["category", "category"]]) : []),
    ...(event.traits ? labelled(event.traits, meaningfulTraits) : []),
  ];
  const head = `${event.stage}: ${event.name}`;
  return parts.length ? `${head} — ${parts.join(", ")}` : head;
}

const isPage = (e: CleanEvent): boolean => e.type === "page" || e.type === "screen";

function pageParts(event: CleanEvent): string[] {
  if (!isPage(event)) return [];
  const props = event.properties;
  const title = sanitise(props.name) ?? sanitise(props.title);
  const category = sanitise(props.category);
  const words = pathWords(props.path ?? props.url);
  return [
    ...(title ? [category && category !== title ? `${title} (${category})` : title] : category ? [category] : []),
    ...(words ? [`path: ${words}`] : []),
  ];
}

function productParts(products: CleanProduct[]): string[] {
  const shown = products.flatMap((p) => {
    const name = sanitise(p.name);
    const category = sanitise(p.category);
    const label = name && category ? `${name} (${category})` : name ?? (category ? `(${category})` : undefined);
    if (!label) return [];
    return [p.quantity > 1 ? `${label} x${p.quantity}` : label];
  });
  if (shown.length <= MAX_PRODUCTS) return shown;
  return [...shown.slice(0, MAX_PRODUCTS), `+${shown.length - MAX_PRODUCTS} more`];
}

function amountParts(event: CleanEvent): string[] {
  const amount = event.revenue ?? (event.products.length === 1 ? event.products[0]!.price : undefined);
  if (amount === undefined) return [];
  return [event.currency ? `${amount.toFixed(2)} ${event.currency}` : amount.toFixed(2)];
}

function labelled(source: Record<string, unknown>, keys: ReadonlyArray<readonly [string, string]>): string[] {
  return keys.flatMap(([key, label]) => {
    const value = sanitise(source[key]);
    return value === undefined ? [] : [`${label}: ${value}`];
  });
}

/** Text of a scalar with ids, e-mail addresses and URLs removed, or undefined when nothing is left. */
function sanitise(value: unknown): string | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === "boolean") return String(value);
  if (typeof value !== "string") return undefined;
  const text = value
    .replace(URL_TEXT, " ")
    .replace(EMAIL, " ")
    .replace(UUID, " ")
    .replace(HEX_ID, " ")
    .replace(LONG_NUMBER, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (!text) return undefined;
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1).trimEnd()}…` : text;
}

/** "/products/running-shoes/8f14e45f" → "products running shoes". */
function pathWords(raw: unknown): string | undefined {
  if (typeof raw !== "string") return undefined;
  let path = raw.trim();
  try {
    if (/^https?:\/\//i.test(path)) path = new URL(path).pathname;
  } catch {
    return undefined;
  }
  path = path.replace(/[?#].*$/, "");
  const words: string[] = [];
  for (const token of path.split(/[/\-_.+]+/)) {
    const word = token.toLowerCase();
    // Tokens with digits are ids or versions; extensions and very short tokens say nothing.
    if (word.length < 2 || /\d/.test(word) || /^(html?|php|aspx?|jsp)$/.test(word) || words.includes(word)) continue;
    words.push(decodeSafe(word));
  }
  return words.length ? words.slice(0, MAX_PATH_WORDS).join(" ") : undefined;
}

function decodeSafe(word: string): string {
  try {
    return decodeURIComponent(word);
  } catch {
    return word;
  }
}
