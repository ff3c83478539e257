/** Per-query scratch space of one fitted model, shared by the sources (scoring is synchronous, so never shared mid-query). */
import type { Recommender } from "../model";
import type { SparseVector } from "../history";
import type { RecHistory } from "../history";

/** Scores of one source for one query; only the items in `touched` are non-zero. */
export type Component = { score: Float64Array; support: Float64Array; via: Int32Array; strongest: Float64Array; touched: number[]; max: number };

export const MODEL_SOURCES = ["users", "items", "after", "revisit", "popular"] as const;
export type ModelSource = (typeof MODEL_SOURCES)[number];

export type Workspace = {
  parts: Record<ModelSource, Component>;
  total: Float64Array;
  best: Float64Array;
  bestSource: Uint8Array;
  userDot: Float64Array;
};

/** What every source reads for one query. */
export type Query = { model: Recommender; ws: Workspace; q: SparseVector; customer: RecHistory };

/** A source of one kind of evidence: scores items into its component and says why, with the count. */
export type Source = {
  score(query: Query, part: Component): void;
  explain(model: Recommender, part: Component, item: number): { reason: string; support: number };
};

const workspaces = new WeakMap<Recommender, Workspace>();

export function workspaceFor(model: Recommender): Workspace {
  let ws = workspaces.get(model);
  if (ws) return ws;
  const n = model.itemIds.length;
  const component = (): Component => ({
    score: new Float64Array(n),
    support: new Float64Array(n),
    via: new Int32Array(n).fill(-1),
    strongest: new Float64Array(n),
    touched: [],
    max: 0,
  });
  ws = {
    parts: { users: component(), items: component(), after: component(), revisit: component(), popular: component() },
    total: new Float64Array(n),
    best: new Float64Array(n),
    bestSource: new Uint8Array(n),
    userDot: new Float64Array(model.users.length),
  };
  workspaces.set(model, ws);
  return ws;
}

export function add(part: Component, i: number, s: number) {
  if (!(s > 0)) return;
  if (part.score[i] === 0) part.touched.push(i);
  part.score[i]! += s;
}

export function finish(part: Component) {
  for (const i of part.touched) if (part.score[i]! > part.max) part.max = part.score[i]!;
}

export function clear(part: Component) {
  for (const i of part.touched) (part.score[i] = 0), (part.support[i] = 0), (part.via[i] = -1), (part.strongest[i] = 0);
  part.touched.length = 0;
  part.max = 0;
}

export const itemLabel = (model: Recommender, i: number) => model.names[i] ?? model.itemIds[i]!;
