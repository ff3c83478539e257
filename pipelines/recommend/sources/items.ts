/** Items bought together with the customer's items (item–item cosine or EASE lists). */
import { plural } from "../history";
import { itemLabel, type Source } from "./component";
import { listScores } from "./neighbour-lists";

export const itemsSource: Source = {
  score({ model, q }, part) {
    listScores(model.similar, part, q, false);
  },
  explain(model, part, i) {
    const n = part.support[i]!;
    return { reason: `bought with ${itemLabel(model, part.via[i]!)} by ${plural(n, "customer")}`, support: n };
  },
};
