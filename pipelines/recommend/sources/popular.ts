/** Popularity: within the customer's categories (by how much of their activity falls in each), else overall. */
import { plural } from "../history";
import { add, finish, type Source } from "./component";

/** An item bought by fewer customers is not "popular". */
export const MIN_POPULAR_BUYERS = 2;

export const popularSource: Source = {
  score({ model, customer }, part) {
    const categoryShare = new Map<string, number>();
    for (const e of customer.events) {
      const i = model.indexOf.get(e.itemId);
      const c = e.category ?? (i === undefined ? undefined : model.categories[i]);
      if (c !== undefined && model.popularByCategory.has(c)) categoryShare.set(c, (categoryShare.get(c) ?? 0) + 1);
    }
    const top = model.popularity[model.popularOrder[0] ?? 0] ?? 0;
    if (top <= 0) return;
    const popular = (i: number) => model.buyers[i]! >= MIN_POPULAR_BUYERS;
    // Category members outrank every overall item, ordered by share × popularity.
    for (const [c, n] of categoryShare)
      for (const i of model.popularByCategory.get(c)!) {
        if (!popular(i)) continue;
        add(part, i, 1 + (n / customer.events.length) * (model.popularity[i]! / top));
        part.via[i] = 1;
        part.support[i] = model.buyers[i]!;
      }
    for (const i of model.popularOrder.subarray(0, 500))
      if (part.score[i] === 0 && popular(i)) {
        add(part, i, model.popularity[i]! / top);
        part.support[i] = model.buyers[i]!;
      }
    finish(part);
  },
  explain(model, part, i) {
    const n = model.buyers[i]!;
    const c = model.categories[i];
    return { reason: part.via[i] === 1 && c !== undefined ? `popular in ${c}: bought by ${plural(n, "customer")}` : `popular: bought by ${plural(n, "customer")}`, support: n };
  },
};
