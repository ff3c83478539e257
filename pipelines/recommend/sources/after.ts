/** What customers bought next after an item this customer bought ("bought after" transitions). */
import { plural } from "../history";
import { itemLabel, type Source } from "./component";
import { listScores } from "./neighbour-lists";

export const afterSource: Source = {
  score({ model, q }, part) {
    listScores(model.after, part, q, true);
  },
  explain(model, part, i) {
    const n = part.support[i]!;
    return { reason: `bought next by ${plural(n, "customer")} who bought ${itemLabel(model, part.via[i]!)}`, support: n };
  },
};
