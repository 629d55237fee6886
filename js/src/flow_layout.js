// @ts-check
/**
 * FlowView's geometry and edge selection, pure (for tests). The kernel sends edges [M, B, N, N]: edges[m, l, i, j]
 * goes from node (l + 1, i) to node (l, j) of model m (node layer 0 = the input tokens, B = after the last block).
 */

/** Colours of model a and model b (attnviz/widgets/flow.py MODEL_COLORS), and of edges both models share. */
export const MODEL_COLORS = ["#1f77b4", "#d62728"];
export const SHARED_COLOR = "#777777";

/**
 * @typedef {{layers: number, n: number, width: number, height: number, left: number, top: number, colW: number,
 *   rowH: number, barW: number, labelW: number}} FlowLayout
 * @typedef {{kind: number, l: number, i: number, j: number, w: number}} Edge kind: 0 = model a (or the only model),
 *   1 = model b, 2 = shared by both; in difference mode 0 = b < a, 1 = b > a; w >= 0
 */

/**
 * Columns for node layers lo..hi (inputs on the left), one row per token.
 * @param {number} lo
 * @param {number} hi
 * @param {number} n tokens
 * @param {{width?: number, maxHeight?: number, barW?: number, labelW?: number, top?: number}} [opts]
 * @returns {FlowLayout}
 */
export function flowLayout(lo, hi, n, opts = {}) {
  const width = opts.width ?? 800;
  const barW = opts.barW ?? 60;
  const labelW = opts.labelW ?? 90;
  const top = opts.top ?? 22;
  const maxHeight = opts.maxHeight ?? 900;
  const rowH = Math.max(2, Math.min(18, Math.floor((maxHeight - top - 8) / Math.max(1, n))));
  const layers = hi - lo;
  const left = barW + labelW + 8;
  const colW = (width - left - labelW - 8) / Math.max(1, layers);
  return { layers, n, width, height: top + rowH * n + 8, left, top, colW, rowH, barW, labelW };
}

/**
 * @param {FlowLayout} L
 * @param {number} layer node layer, relative to lo
 */
export function columnX(L, layer) {
  return L.left + layer * L.colW;
}

/**
 * @param {FlowLayout} L
 * @param {number} i
 */
export function nodeY(L, i) {
  return L.top + (i + 0.5) * L.rowH;
}

/**
 * The node under a point, within half a column of its layer: {layer (relative to lo), index} or null.
 * @param {FlowLayout} L
 * @param {number} x
 * @param {number} y
 */
export function nodeAt(L, x, y) {
  const i = Math.floor((y - L.top) / L.rowH);
  if (i < 0 || i >= L.n) return null;
  const layer = Math.round((x - L.left) / L.colW);
  if (layer < 0 || layer > L.layers || Math.abs(x - columnX(L, layer)) > Math.max(8, L.colW * 0.25)) return null;
  return { layer, index: i };
}

/**
 * Push the edges of block l at or above `thr`: one model's weights; for two models either the shared part
 * min(a, b) and each model's excess over it ("both"), or |b - a| with its sign ("difference").
 * @param {Float32Array} edges [M, B, N, N]
 * @param {number[]} shape
 * @param {number} l block
 * @param {"both" | "difference"} mode
 * @param {number} thr
 * @param {Edge[]} out
 */
function blockEdges(edges, shape, l, mode, thr, out) {
  const [M, B, N] = shape;
  const base = l * N * N;
  const other = B * N * N;
  for (let k = 0; k < N * N; k++) {
    const a = edges[base + k];
    const b = M > 1 ? edges[other + base + k] : 0;
    if (a < thr && b < thr) continue;  // every candidate below is at most max(a, b)
    const i = Math.floor(k / N);
    const j = k - i * N;
    if (M === 1) {
      out.push({ kind: 0, l, i, j, w: a });
    } else if (mode === "difference") {
      const dlt = b - a;
      if (Math.abs(dlt) >= thr) out.push({ kind: dlt >= 0 ? 1 : 0, l, i, j, w: Math.abs(dlt) });
    } else {
      const s = Math.min(a, b);
      if (s >= thr) out.push({ kind: 2, l, i, j, w: s });
      if (a - s >= thr) out.push({ kind: 0, l, i, j, w: a - s });
      if (b - s >= thr) out.push({ kind: 1, l, i, j, w: b - s });
    }
  }
}

/**
 * The edges drawn: those of blocks lo..hi-1 (between node layers lo..hi) with weight >= threshold, restricted to
 * the paths through `focus` when a token is clicked, then the topK strongest. Returns them strongest first, with
 * how many passed the threshold (`total`) and how many the cap hid (`hidden`).
 * @param {Float32Array} edges [M, B, N, N]
 * @param {number[]} shape [M, B, N, N]
 * @param {{lo: number, hi: number, threshold: number, topK: number, mode?: "both" | "difference",
 *   focus?: {layer: number, index: number} | null}} opts focus.layer is an absolute node layer
 * @returns {{edges: Edge[], total: number, hidden: number}}
 */
export function selectEdges(edges, shape, opts) {
  const [, B, N] = shape;
  const mode = opts.mode ?? "both";
  /** @type {Edge[]} */
  let kept = [];
  const thr = Math.max(opts.threshold, 1e-12);
  for (let l = Math.max(0, opts.lo); l < Math.min(B, opts.hi); l++) blockEdges(edges, shape, l, mode, thr, kept);
  if (opts.focus) kept = throughNode(kept, opts.focus, opts.lo, opts.hi, N);
  kept.sort((x, y) => y.w - x.w || x.l - y.l || x.i - y.i || x.j - y.j || x.kind - y.kind);
  const total = kept.length;
  const shown = total > opts.topK ? kept.slice(0, opts.topK) : kept;
  return { edges: shown, total, hidden: total - shown.length };
}

/**
 * Only the edges on a path through node (focus.layer, focus.index): below it, the edges reachable going down from
 * it; above it, the edges from which it is reachable going down.
 * @param {Edge[]} list
 * @param {{layer: number, index: number}} focus
 * @param {number} lo
 * @param {number} hi
 * @param {number} N
 */
export function throughNode(list, focus, lo, hi, N) {
  /** @type {Map<number, Edge[]>} */
  const byBlock = new Map();
  for (const e of list) {
    const arr = byBlock.get(e.l);
    if (arr) arr.push(e); else byBlock.set(e.l, [e]);
  }
  /** @type {Map<number, Uint8Array>} reached nodes per node layer */
  const reach = new Map();
  const start = new Uint8Array(N);
  start[focus.index] = 1;
  reach.set(focus.layer, start);
  /** @type {Edge[]} */
  const out = [];
  // down: block l joins node layer l + 1 (upper) to l (lower)
  for (let l = focus.layer - 1; l >= lo; l--) {
    const upper = /** @type {Uint8Array} */ (reach.get(l + 1));
    const lower = new Uint8Array(N);
    for (const e of byBlock.get(l) ?? []) if (upper[e.i]) { lower[e.j] = 1; out.push(e); }
    reach.set(l, lower);
  }
  // up
  for (let l = focus.layer; l < hi; l++) {
    const lower = /** @type {Uint8Array} */ (reach.get(l));
    const upper = new Uint8Array(N);
    for (const e of byBlock.get(l) ?? []) if (lower[e.j]) { upper[e.i] = 1; out.push(e); }
    reach.set(l + 1, upper);
  }
  return out;
}
