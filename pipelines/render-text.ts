import type { CleanEvent, CleanProduct } from "./clean-event";

const MAX_PRODUCTS = 5;
/** One value (a complaint, a review) may say a lot; the whole text stays short enough to embed well. */
const MAX_VALUE_CHARS = 300;
const MAX_TEXT_CHARS = 800;
const MAX_PATH_WORDS = 8;
const MAX_LIST_ITEMS = 5;

/**
 * Property and trait names that never carry what a person wrote or chose, by their words
 * ("order_id", "orderId", "utm_source" → ["order", "id"], ["utm", "source"]): ids and keys,
 * addresses and tracking, personal data, and fields the text already shows in its own way
 * (products, amounts, the page's name and path).
 */
const deniedWords = new Set([
  // ids, secrets, hashes
  "id", "ids", "uuid", "guid", "key", "token", "secret", "password", "hash", "signature", "checksum", "nonce", "sku", "serial", "number", "code", "ref",
  // addresses and tracking
  "url", "uri", "href", "link", "path", "referrer", "referer", "ip", "utm", "gclid", "fbclid", "msclkid", "session", "cookie", "agent", "device", "os",
  "browser", "locale", "timezone", "library", "version", "sdk", "build", "hostname", "host", "domain",
  // personal data
  "email", "mail", "phone", "mobile", "tel", "fax", "username", "nickname", "address", "street", "city", "zip", "postal", "postcode",
  "birthday", "dob", "birth", "age", "gender", "avatar", "photo", "picture", "ssn", "passport", "iban", "card", "account", "lat", "latitude", "lon", "lng", "longitude",
  // shown elsewhere
  "products", "product", "price", "quantity", "revenue", "total", "subtotal", "currency", "value", "tax", "shipping", "discount", "amount", "category",
  "timestamp", "time", "date", "at", "ts",
]);
/** A person's name, by the whole key: "plan_name" or "company_name" say what was chosen, "first_name" who chose it. */
const personalNames = new Set(["name", "first name", "last name", "full name", "given name", "family name", "middle name", "display name", "user name"]);
/** Codes that read as a word to people (a plan, a coupon) even when they look like an id. */
const keptCodes = new Set(["coupon", "plan", "tier", "promotion", "promo", "model", "feature", "step"]);
/** Numbers worth a word in the text; other numbers live in the structured profile. */
const keptNumbers = new Set(["rating", "score", "stars", "nps", "step"]);

const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi;
const EMAIL = /\S+@\S+\.\S+/g;
const URL_TEXT = /\b(?:https?:\/\/|www\.)\S+/gi;
const PHONE = /\+?\d[\d ().-]{6,}\d/g;
const LONG_NUMBER = /\b\d{5,}\b/g;
const HEX_ID = /\b[0-9a-f]{16,}\b/gi;
/** One token mixing letters and digits or long enough to be a key: "ord-10021", "inv_8813", "sk_live_…". */
const CODE_LIKE = /^(?=\S*\d)(?=\S*[a-z])\S+$|^\S{24,}$/i;

/**
 * A short deterministic text of one event for embedding and for people to read:
 * "Complaint Submitted — text: my parcel arrived two weeks late and the box was damaged".
 * The lifecycle stage stays out: it is a payload filter, and as words it would make every
 * event of a stage look alike.
 */
export function renderEventText(event: CleanEvent): string {
  const parts = [
    ...pageParts(event),
    ...productParts(event.products),
    ...amountParts(event),
    ...(isPage(event) ? [] : categoryParts(event)),
    ...writtenParts(event.properties, isPage(event) ? pageKeys : noKeys),
    ...(event.traits ? writtenParts(event.traits, noKeys) : []),
  ];
  const text = parts.length ? `${event.name} — ${parts.join(", ")}` : event.name;
  return text.length > MAX_TEXT_CHARS ? `${text.slice(0, MAX_TEXT_CHARS - 1).trimEnd()}…` : text;
}

const noKeys: ReadonlySet<string> = new Set();
const pageKeys: ReadonlySet<string> = new Set(["name", "title", "category", "path", "url", "referrer", "search"]);
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

function categoryParts(event: CleanEvent): string[] {
  const category = event.products.length === 0 ? sanitise(event.properties.category) : undefined;
  return category ? [`category: ${category}`] : [];
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

/** Every property a person wrote or chose, in the producer's order, by the rule in `deniedWords`. */
function writtenParts(source: Record<string, unknown>, skip: ReadonlySet<string>): string[] {
  const parts: string[] = [];
  for (const [key, raw] of Object.entries(source)) {
    if (skip.has(key)) continue;
    const words = keyWords(key);
    if (isDenied(words)) continue;
    const value = writtenValue(raw, words);
    if (value === undefined) continue;
    // The field's name says what kind of text it is ("review: …", "reason: …"): measured better than without.
    parts.push(`${words.join(" ")}: ${value}`);
  }
  return parts;
}

function isDenied(words: string[]): boolean {
  if (words.length === 0 || personalNames.has(words.join(" "))) return true;
  // "promo_code", "coupon_code": the code is the point.
  return !words.some((w) => keptCodes.has(w)) && words.some((w) => deniedWords.has(w));
}

/** "orderId", "order_id", "Order-ID" → ["order", "id"]. */
function keyWords(key: string): string[] {
  return key
    .replace(/([a-z\d])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z\d]+/)
    .filter(Boolean);
}

function writtenValue(raw: unknown, words: string[]): string | undefined {
  if (typeof raw === "number") return words.some((w) => keptNumbers.has(w)) && Number.isFinite(raw) ? String(raw) : undefined;
  if (Array.isArray(raw)) {
    const items = raw.flatMap((item) => (typeof item === "string" ? [writtenValue(item, words)] : [])).filter((v): v is string => v !== undefined);
    return items.length ? items.slice(0, MAX_LIST_ITEMS).join(", ") : undefined;
  }
  if (typeof raw !== "string") return undefined;
  if (CODE_LIKE.test(raw.trim()) && !words.some((w) => keptCodes.has(w))) return undefined;
  return sanitise(raw);
}

/** Text of a scalar with ids, e-mail addresses, phone numbers and URLs removed, or undefined when nothing is left. */
function sanitise(value: unknown): string | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === "boolean") return String(value);
  if (typeof value !== "string") return undefined;
  const text = value
    .replace(URL_TEXT, " ")
    .replace(EMAIL, " ")
    .replace(UUID, " ")
    .replace(HEX_ID, " ")
    .replace(PHONE, " ")
    .replace(LONG_NUMBER, " ")
    .replace(/\s+/g, " ")
    .trim();
  if (!text || !/[\p{L}\p{N}]/u.test(text)) return undefined;
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
