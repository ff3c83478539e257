/** Items the customer viewed, carted or wished for and has not bought. */
import { add, finish, type Source } from "./component";

export const revisitSource: Source = {
  score({ q }, part) {
    for (let x = 0; x < q.item.length; x++)
      if (!q.bought[x]) {
        add(part, q.item[x]!, q.weight[x]!);
        part.support[q.item[x]!] = 1;
      }
    finish(part);
  },
  explain: () => ({ reason: "you looked at this and have not bought it yet", support: 1 }),
};
