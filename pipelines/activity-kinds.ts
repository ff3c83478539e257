/**
 * What kind of engagement an event is, for the engagement features of the churn model: looking
 * (product and page views), intent (carts, wishlists), searching, contacting support, and
 * reading messages. Pure.
 */
export const activityKinds = ["views", "carts", "searches", "support", "messages"] as const;
export type ActivityKind = (typeof activityKinds)[number];

const BY_NAME: Record<string, ActivityKind> = {
  "Product Viewed": "views",
  "Product List Viewed": "views",
  "Product Clicked": "views",
  "Promotion Clicked": "views",
  "Product Added": "carts",
  "Product Added to Wishlist": "carts",
  "Cart Viewed": "carts",
  "Checkout Started": "carts",
  "Products Searched": "searches",
  "Support Ticket Opened": "support",
  "Email Opened": "messages",
  "Email Link Clicked": "messages",
};

export function activityKind(type: string, name: string): ActivityKind | undefined {
  if (type === "page" || type === "screen") return "views";
  const known = BY_NAME[name];
  if (known) return known;
  const text = name.toLowerCase();
  if (/\b(support|help|chat|contact)\b/.test(text)) return "support";
  if (/\bsearch/.test(text)) return "searches";
  return undefined;
}
