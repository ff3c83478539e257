/** What the customers most like this one bought: user-based neighbours over decayed item vectors. */
import { decayFactor, plural } from "../history";
import { topK } from "../item-lists";
import { weightedNorm } from "../model";
import { add, finish, type Source } from "./component";

export const usersSource: Source = {
  score({ model, ws, q, customer }, part) {
    const { usersByItem, users, options, similarityWeight } = model;
    const dot = ws.userDot;
    const touched: number[] = [];
    const qNorm = weightedNorm(q, similarityWeight);
    for (let x = 0; x < q.item.length; x++) {
      const i = q.item[x]!;
      const qw = q.weight[x]! * similarityWeight[i]!;
      for (let p = usersByItem.start[i]!; p < usersByItem.start[i + 1]!; p++) {
        const u = usersByItem.user[p]!;
        if (dot[u] === 0) touched.push(u);
        dot[u]! += qw * usersByItem.weight[p]!;
      }
    }
    // A fitted customer is not their own neighbour.
    for (const u of touched) dot[u] = model.customerIds[u] === customer.customerId ? 0 : dot[u]! / (qNorm * users[u]!.norm + 1e-12);
    const neighbours = topK(touched, dot, options.userNeighbours);
    const vote = Number.isFinite(options.voteHalfLifeDays);
    for (const u of neighbours) {
      const s = dot[u]!;
      if (s <= 0) break;
      const v = users[u]!;
      const weight = Math.pow(s, options.userSimExponent) * Math.pow(v.item.length, -options.neighbourSizeExponent);
      for (let x = 0; x < v.item.length; x++) {
        const j = v.item[x]!;
        const age = vote ? decayFactor(model.builtAtMs - v.lastTs[x]!, options.voteHalfLifeDays) : 1;
        add(part, j, weight * v.weight[x]! * age);
        // support: neighbours who have it at all; strongest (reused as a count here): those who bought it.
        part.support[j]! += 1;
        if (v.bought[x]) part.strongest[j]! += 1;
      }
    }
    for (const u of touched) dot[u] = 0;
    finish(part);
  },
  explain(_model, part, i) {
    const bought = part.strongest[i]!;
    if (bought > 0) return { reason: `bought by ${plural(bought, "customer")} like you`, support: bought };
    const looked = part.support[i]!;
    return { reason: `looked at by ${plural(looked, "customer")} like you`, support: looked };
  },
};
