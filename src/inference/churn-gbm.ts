/**
 * Small gradient-boosted decision trees for binary outcomes (logistic loss, Newton leaf
 * values, L2-regularised, histogram split finding). Pure TS, no I/O. Trees are plain
 * arrays so a model serialises to JSON as is. Predictions can be decomposed into
 * per-feature contributions along each tree's decision path (Saabas), which sum exactly to
 * the raw score minus the base score.
 */

export type GbmTree = {
  /** Split feature per node; −1 for a leaf. */
  feature: number[];
  /** Rows with value ≤ threshold (or NaN) go left. */
  threshold: number[];
  left: number[];
  right: number[];
  /** Learning-rate-scaled Newton value of every node (internal nodes too, for contributions). */
  value: number[];
};

export type GbmModel = { base: number; trees: GbmTree[] };

export type GbmOptions = {
  /** @defaultValue 300 */
  trees?: number;
  /** @defaultValue 0.05 */
  learningRate?: number;
  /** @defaultValue 3 */
  maxDepth?: number;
  /** Minimum hessian sum in a leaf. @defaultValue 20 */
  minChildWeight?: number;
  /** @defaultValue 1 */
  lambda?: number;
  /** Row subsample per tree. @defaultValue 0.8 */
  subsample?: number;
  /** @defaultValue 64 */
  maxBins?: number;
  /** Stop when validation log-loss has not improved for this many trees. @defaultValue 40 */
  earlyStoppingRounds?: number;
  seed?: number;
  /**
   * Per feature: +1 the score may only rise with the value, −1 only fall, 0 free. Enforced per
   * split with bounds passed down to the children (LightGBM's "basic" method), so every tree and
   * their sum are monotone. @defaultValue all 0
   */
  monotone?: readonly (1 | -1 | 0)[];
};

/** Column-major feature matrix: columns[f][i] is feature f of row i. */
export type Columns = Float64Array[];

export { sigmoid } from "../../pipelines/log-odds.ts";
import { sigmoid } from "../../pipelines/log-odds.ts";

type Binned = { bins: Uint8Array[]; edges: Float64Array[] };

function binColumns(columns: Columns, maxBins: number): Binned {
  const edges = columns.map((col) => {
    const sorted = Float64Array.from(col.filter((v) => !Number.isNaN(v))).sort();
    const cuts: number[] = [];
    for (let b = 1; b < maxBins; b++) {
      const v = sorted[Math.floor((b * sorted.length) / maxBins)];
      if (v !== undefined && (cuts.length === 0 || v > cuts[cuts.length - 1]!)) cuts.push(v);
    }
    // Cut points are data values, so bin k holds the values ≤ cuts[k] and the last bin the rest.
    return Float64Array.from(cuts);
  });
  const bins = columns.map((col, f) => {
    const e = edges[f]!;
    const out = new Uint8Array(col.length);
    for (let i = 0; i < col.length; i++) {
      const v = col[i]!;
      if (Number.isNaN(v)) continue;
      let lo = 0;
      let hi = e.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (v <= e[mid]!) hi = mid;
        else lo = mid + 1;
      }
      out[i] = lo;
    }
    return out;
  });
  return { bins, edges };
}

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function trainGbm(
  columns: Columns,
  labels: ArrayLike<number>,
  options: GbmOptions = {},
  validation?: { columns: Columns; labels: ArrayLike<number> },
): GbmModel {
  const {
    trees: maxTrees = 300,
    learningRate = 0.05,
    maxDepth = 3,
    minChildWeight = 20,
    lambda = 1,
    subsample = 0.8,
    maxBins = 64,
    earlyStoppingRounds = 40,
    seed = 1,
    monotone = [],
  } = options;
  const n = labels.length;
  const nf = columns.length;
  const { bins, edges } = binColumns(columns, Math.min(maxBins, 255));
  let positives = 0;
  for (let i = 0; i < n; i++) positives += labels[i]!;
  const rate = Math.min(1 - 1e-6, Math.max(1e-6, positives / n));
  const base = Math.log(rate / (1 - rate));
  const score = new Float64Array(n).fill(base);
  const grad = new Float64Array(n);
  const hess = new Float64Array(n);
  const random = mulberry32(seed);
  const model: GbmModel = { base, trees: [] };
  const validScore = validation ? new Float64Array(validation.labels.length).fill(base) : undefined;
  let bestLoss = Number.POSITIVE_INFINITY;
  let bestTrees = 0;

  for (let t = 0; t < maxTrees; t++) {
    for (let i = 0; i < n; i++) {
      const p = sigmoid(score[i]!);
      grad[i] = p - labels[i]!;
      hess[i] = Math.max(p * (1 - p), 1e-12);
    }
    const rows: number[] = [];
    for (let i = 0; i < n; i++) if (random() < subsample) rows.push(i);
    const tree = growTree(Int32Array.from(rows), bins, edges, grad, hess, { maxDepth, minChildWeight, lambda, learningRate, nf, monotone });
    model.trees.push(tree);
    for (let i = 0; i < n; i++) score[i] = score[i]! + leafValue(tree, (f) => columns[f]![i]!);
    if (validation && validScore) {
      let loss = 0;
      const vy = validation.labels;
      for (let i = 0; i < vy.length; i++) {
        validScore[i] = validScore[i]! + leafValue(tree, (f) => validation.columns[f]![i]!);
        const p = Math.min(1 - 1e-12, Math.max(1e-12, sigmoid(validScore[i]!)));
        loss -= vy[i] === 1 ? Math.log(p) : Math.log(1 - p);
      }
      if (loss < bestLoss - 1e-9) {
        bestLoss = loss;
        bestTrees = model.trees.length;
      } else if (model.trees.length - bestTrees >= earlyStoppingRounds) break;
    }
  }
  if (validation) model.trees.length = Math.max(1, bestTrees);
  return model;
}

type GrowOptions = { maxDepth: number; minChildWeight: number; lambda: number; learningRate: number; nf: number; monotone: readonly (1 | -1 | 0)[] };

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

function growTree(
  rows: Int32Array,
  bins: Uint8Array[],
  edges: Float64Array[],
  grad: Float64Array,
  hess: Float64Array,
  o: GrowOptions,
): GbmTree {
  const tree: GbmTree = { feature: [], threshold: [], left: [], right: [], value: [] };
  // A node's Newton value, kept within the bounds its monotone ancestors set (unscaled units).
  const weight = (g: number, h: number, lo: number, hi: number) => clamp(-g / (h + o.lambda), lo, hi);
  // Loss of a leaf holding gradient sums (g, h) at value w: g·w + ½(h + λ)w².
  const loss = (g: number, h: number, w: number) => g * w + 0.5 * (h + o.lambda) * w * w;
  const newNode = (w: number) => {
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.value.push(w * o.learningRate);
    return tree.feature.length - 1;
  };
  const sums = (rs: Int32Array) => {
    let g = 0;
    let h = 0;
    for (let k = 0; k < rs.length; k++) {
      g += grad[rs[k]!]!;
      h += hess[rs[k]!]!;
    }
    return [g, h] as const;
  };
  const [g0, h0] = sums(rows);
  const w0 = weight(g0, h0, -Infinity, Infinity);
  const stack: { node: number; rows: Int32Array; depth: number; g: number; h: number; w: number; lo: number; hi: number }[] = [
    { node: newNode(w0), rows, depth: 0, g: g0, h: h0, w: w0, lo: -Infinity, hi: Infinity },
  ];
  const histG = new Float64Array(256);
  const histH = new Float64Array(256);
  while (stack.length) {
    const { node, rows: rs, depth, g, h, w, lo, hi } = stack.pop()!;
    if (depth >= o.maxDepth || h < 2 * o.minChildWeight) continue;
    const parentLoss = loss(g, h, w);
    let best = { gain: 1e-9, feature: -1, bin: -1, wl: 0, wr: 0 };
    for (let f = 0; f < o.nf; f++) {
      const col = bins[f]!;
      const nb = edges[f]!.length + 1;
      const direction = o.monotone[f] ?? 0;
      histG.fill(0, 0, nb);
      histH.fill(0, 0, nb);
      for (let k = 0; k < rs.length; k++) {
        const i = rs[k]!;
        const b = col[i]!;
        histG[b] = histG[b]! + grad[i]!;
        histH[b] = histH[b]! + hess[i]!;
      }
      let gl = 0;
      let hl = 0;
      for (let b = 0; b < nb - 1; b++) {
        gl += histG[b]!;
        hl += histH[b]!;
        const gr = g - gl;
        const hr = h - hl;
        if (hl < o.minChildWeight || hr < o.minChildWeight) continue;
        const wl = weight(gl, hl, lo, hi);
        const wr = weight(gr, hr, lo, hi);
        if ((direction > 0 && wl > wr) || (direction < 0 && wl < wr)) continue;
        const gain = parentLoss - loss(gl, hl, wl) - loss(gr, hr, wr);
        if (gain > best.gain) best = { gain, feature: f, bin: b, wl, wr };
      }
    }
    if (best.feature < 0) continue;
    const col = bins[best.feature]!;
    const leftRows: number[] = [];
    const rightRows: number[] = [];
    for (let k = 0; k < rs.length; k++) (col[rs[k]!]! <= best.bin ? leftRows : rightRows).push(rs[k]!);
    const l = Int32Array.from(leftRows);
    const r = Int32Array.from(rightRows);
    const [gl, hl] = sums(l);
    const [gr, hr] = sums(r);
    // Children of a monotone split stay on their side of the midpoint, so no deeper split can undo the order.
    const direction = o.monotone[best.feature] ?? 0;
    const mid = (best.wl + best.wr) / 2;
    const [lLo, lHi] = direction > 0 ? [lo, mid] : direction < 0 ? [mid, hi] : [lo, hi];
    const [rLo, rHi] = direction > 0 ? [mid, hi] : direction < 0 ? [lo, mid] : [lo, hi];
    tree.feature[node] = best.feature;
    tree.threshold[node] = edges[best.feature]![best.bin]!;
    tree.left[node] = newNode(best.wl);
    tree.right[node] = newNode(best.wr);
    stack.push({ node: tree.left[node]!, rows: l, depth: depth + 1, g: gl, h: hl, w: best.wl, lo: lLo, hi: lHi });
    stack.push({ node: tree.right[node]!, rows: r, depth: depth + 1, g: gr, h: hr, w: best.wr, lo: rLo, hi: rHi });
  }
  return tree;
}

const goesLeft = (v: number, threshold: number) => Number.isNaN(v) || v <= threshold;

function leafValue(tree: GbmTree, x: (f: number) => number): number {
  let node = 0;
  while (tree.feature[node]! >= 0) node = goesLeft(x(tree.feature[node]!), tree.threshold[node]!) ? tree.left[node]! : tree.right[node]!;
  return tree.value[node]!;
}

/** Raw score (log-odds) of one row given as a dense vector. */
export function gbmRawScore(model: GbmModel, x: ArrayLike<number>): number {
  let s = model.base;
  for (const tree of model.trees) s += leafValue(tree, (f) => x[f]!);
  return s;
}

/**
 * Exact baseline Shapley values of a row `x` against a reference row `reference`: φ[f] is
 * feature f's share of rawScore(x) − rawScore(reference), averaged over every order in which
 * the features could be switched from the reference's value to x's, so Σφ equals that
 * difference exactly. Per tree, each leaf that some mix of x and the reference can reach
 * requires a set A of features taken from x and a set B taken from the reference; the leaf's
 * value goes to f ∈ A with weight (|A|−1)!|B|!/(|A|+|B|)! and from f ∈ B with |A|!(|B|−1)!/(|A|+|B|)!.
 * In a model monotone in f, φ[f] has the sign of the monotone direction × (x[f] − reference[f]).
 */
export function gbmShapley(model: GbmModel, x: ArrayLike<number>, reference: ArrayLike<number>, featureCount: number): Float64Array {
  const phi = new Float64Array(featureCount);
  const fromX: number[] = [];
  const fromRef: number[] = [];
  const walk = (tree: GbmTree, node: number) => {
    const f = tree.feature[node]!;
    if (f < 0) {
      const a = fromX.length;
      const b = fromRef.length;
      if (a + b === 0) return;
      const v = tree.value[node]!;
      const total = factorial(a + b);
      if (a > 0) for (const g of fromX) phi[g] = phi[g]! + (v * factorial(a - 1) * factorial(b)) / total;
      if (b > 0) for (const g of fromRef) phi[g] = phi[g]! - (v * factorial(a) * factorial(b - 1)) / total;
      return;
    }
    const t = tree.threshold[node]!;
    const xLeft = goesLeft(x[f]!, t);
    const refLeft = goesLeft(reference[f]!, t);
    const child = (left: boolean) => (left ? tree.left[node]! : tree.right[node]!);
    if (xLeft === refLeft) return walk(tree, child(xLeft));
    // The two rows part here: the x side needs f from x, the reference side f from the reference.
    if (!fromRef.includes(f)) {
      const added = !fromX.includes(f);
      if (added) fromX.push(f);
      walk(tree, child(xLeft));
      if (added) fromX.pop();
    }
    if (!fromX.includes(f)) {
      const added = !fromRef.includes(f);
      if (added) fromRef.push(f);
      walk(tree, child(refLeft));
      if (added) fromRef.pop();
    }
  };
  for (const tree of model.trees) walk(tree, 0);
  return phi;
}

const FACTORIALS = [1];
function factorial(n: number): number {
  for (let k = FACTORIALS.length; k <= n; k++) FACTORIALS.push(FACTORIALS[k - 1]! * k);
  return FACTORIALS[n]!;
}
