/** Σ over the customer's items i of the list score i → j, remembering the strongest i (the "via" of the reason). */
import type { NeighbourLists } from "../item-lists";
import type { SparseVector } from "../history";
import { add, finish, type Component } from "./component";

export function listScores(lists: NeighbourLists, part: Component, q: SparseVector, boughtOnly: boolean) {
  const { strongest } = part;
  for (let x = 0; x < q.item.length; x++) {
    if (boughtOnly && !q.bought[x]) continue;
    const g = q.weight[x]!;
    const i = q.item[x]!;
    for (let p = lists.start[i]!; p < lists.start[i + 1]!; p++) {
      const j = lists.item[p]!;
      const c = g * lists.score[p]!;
      add(part, j, c);
      if (c > strongest[j]!) (strongest[j] = c), (part.via[j] = i), (part.support[j] = lists.support[p]!);
    }
  }
  finish(part);
}
