/**
 * The event-name vocabulary: Segment's e-commerce (v2) spec names plus the lifecycle events
 * Lifeline reasons about, and the synonyms producers send for them.
 */
export const canonicalEventNames = [
  "Products Searched",
  "Product List Viewed",
  "Product List Filtered",
  "Promotion Viewed",
  "Promotion Clicked",
  "Product Viewed",
  "Product Clicked",
  "Product Added",
  "Product Removed",
  "Product Shared",
  "Product Reviewed",
  "Product Added to Wishlist",
  "Product Removed from Wishlist",
  "Cart Viewed",
  "Cart Shared",
  "Checkout Started",
  "Checkout Step Viewed",
  "Checkout Step Completed",
  "Payment Info Entered",
  "Order Completed",
  "Order Updated",
  "Order Refunded",
  "Order Cancelled",
  "Coupon Entered",
  "Coupon Applied",
  "Coupon Denied",
  "Coupon Removed",
  "Subscription Started",
  "Subscription Renewed",
  "Subscription Cancelled",
  "Subscription Downgraded",
  "Subscription Upgraded",
  "Trial Started",
  "Trial Ended",
  "Payment Failed",
  "Signed Up",
  "Signed In",
  "Signed Out",
  "Complaint Filed",
  "Support Ticket Opened",
  "Support Ticket Closed",
  "Email Opened",
  "Email Link Clicked",
  "Email Unsubscribed",
  "Account Deleted",
] as const;

export type CanonicalEventName = (typeof canonicalEventNames)[number];

/** Alias → canonical name. Aliases are compared by {@link nameKey}, so case and separators do not matter. */
const synonyms: Record<string, CanonicalEventName> = {
  // Segment e-commerce v1 names
  "viewed product": "Product Viewed",
  "viewed product category": "Product List Viewed",
  "added product": "Product Added",
  "removed product": "Product Removed",
  "started order": "Checkout Started",
  "completed order": "Order Completed",
  "completed checkout step": "Checkout Step Completed",
  "viewed checkout step": "Checkout Step Viewed",
  "entered payment info": "Payment Info Entered",
  "applied coupon": "Coupon Applied",
  "refunded order": "Order Refunded",
  "cancelled order": "Order Cancelled",
  // common synonyms (GA4, Shopify, home-grown)
  search: "Products Searched",
  "product search": "Products Searched",
  "product searched": "Products Searched",
  "view item list": "Product List Viewed",
  "category viewed": "Product List Viewed",
  "view item": "Product Viewed",
  "product view": "Product Viewed",
  "product detail viewed": "Product Viewed",
  "select item": "Product Clicked",
  "add to cart": "Product Added",
  "added to cart": "Product Added",
  "add cart": "Product Added",
  "cart add": "Product Added",
  "cart added": "Product Added",
  "remove from cart": "Product Removed",
  "removed from cart": "Product Removed",
  cart: "Cart Viewed",
  "view cart": "Cart Viewed",
  "begin checkout": "Checkout Started",
  checkout: "Checkout Started",
  "add payment info": "Payment Info Entered",
  purchase: "Order Completed",
  purchased: "Order Completed",
  buy: "Order Completed",
  order: "Order Completed",
  "order placed": "Order Completed",
  "place order": "Order Completed",
  "checkout completed": "Order Completed",
  "transaction completed": "Order Completed",
  refund: "Order Refunded",
  "order refund": "Order Refunded",
  "order canceled": "Order Cancelled",
  "cancel order": "Order Cancelled",
  "add to wishlist": "Product Added to Wishlist",
  "wishlist added": "Product Added to Wishlist",
  "product review": "Product Reviewed",
  review: "Product Reviewed",
  subscribe: "Subscription Started",
  subscribed: "Subscription Started",
  "subscription created": "Subscription Started",
  unsubscribe: "Subscription Cancelled",
  "subscription canceled": "Subscription Cancelled",
  "cancel subscription": "Subscription Cancelled",
  downgrade: "Subscription Downgraded",
  upgrade: "Subscription Upgraded",
  "payment declined": "Payment Failed",
  "charge failed": "Payment Failed",
  "sign up": "Signed Up",
  signup: "Signed Up",
  register: "Signed Up",
  registered: "Signed Up",
  "account created": "Signed Up",
  login: "Signed In",
  "log in": "Signed In",
  "logged in": "Signed In",
  "sign in": "Signed In",
  logout: "Signed Out",
  "log out": "Signed Out",
  complaint: "Complaint Filed",
  "support ticket created": "Support Ticket Opened",
  "ticket opened": "Support Ticket Opened",
  "ticket created": "Support Ticket Opened",
  "email unsubscribe": "Email Unsubscribed",
  "unsubscribed email": "Email Unsubscribed",
  "account closed": "Account Deleted",
  "delete account": "Account Deleted",
};

/** A lookup from {@link nameKey} to canonical (or caller-chosen) names. */
export type EventVocabulary = ReadonlyMap<string, string>;

/**
 * Comparison key of an event name: camelCase split, separators to spaces, lower case.
 * "addToCart", "add_to_cart", "Add To Cart" and " add-to-cart " share the key "add to cart".
 */
export function nameKey(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .replace(/[^\p{L}\p{N}]+/gu, " ")
    .trim()
    .toLowerCase();
}

/**
 * The default vocabulary extended by `extra` (alias → name); an extra alias overrides a
 * built-in one, so a producer's own naming can be mapped without code changes.
 */
export function buildVocabulary(extra: Record<string, string> = {}): EventVocabulary {
  const vocab = new Map<string, string>();
  for (const name of canonicalEventNames) vocab.set(nameKey(name), name);
  for (const [alias, name] of Object.entries(synonyms)) vocab.set(nameKey(alias), name);
  for (const [alias, name] of Object.entries(extra)) vocab.set(nameKey(alias), name);
  return vocab;
}

export const defaultVocabulary: EventVocabulary = buildVocabulary();

/** The canonical name, or the name in Title Case when the vocabulary does not know it. */
export function normaliseEventName(raw: string, vocab: EventVocabulary = defaultVocabulary): string {
  const known = knownEventName(raw, vocab);
  if (known) return known;
  // A name of symbols only has no words to title-case; keep what was sent.
  return titleCase(raw) || raw.trim();
}

/** The vocabulary's name for `raw`, or undefined when it has none. */
export const knownEventName = (raw: string, vocab: EventVocabulary = defaultVocabulary): string | undefined =>
  vocab.get(nameKey(raw));

/** Title Case that keeps acronyms ("viewed_FAQ_page" → "Viewed FAQ Page"). */
export function titleCase(raw: string): string {
  return raw
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .map((w) => (w.length > 1 && w === w.toUpperCase() && /\p{Lu}/u.test(w) ? w : w[0]!.toUpperCase() + w.slice(1).toLowerCase()))
    .join(" ");
}
