// @ts-check
/**
 * FlowView's graph drawing, pure: `drawFlowGraph` paints the edges chosen by flow_layout.js selectEdges (grouped by
 * colour and weight level: one path each), the nodes shaded by their share of the flow, the clicked node, the
 * classification-attention bars beside the inputs, the token labels and the column titles on any 2-D context;
 * `flowNote` and `flowSum` are the text under the graph and the drawing's checksum items. No DOM here, so each is
 * unit-tested alone (js/test/flow_draw.test.js).
 */
import { color, css, sig3 } from "./colormap.js";
import { MODEL_COLORS, SHARED_COLOR, columnX, flowLayout, nodeY } from "./flow_layout.js";

/** Alpha levels edges are grouped into (one path per colour and level). */
export const LEVELS = 6;
/** Token labels are cut to this many characters at most (the whole token is in the hover readout). */
export const LABEL_CHARS = 24;
/** About one character's width at the labels' 12 px font. */
export const CHAR_PX = 7.2;

/**
 * @typedef {import("./flow_layout.js").FlowLayout} FlowLayout
 * @typedef {import("./flow_layout.js").Edge} Edge
 * @typedef {{layer: number, index: number} | null} FlowFocus absolute node layer
 */

/** @param {string} t @param {number} [n] */
export function short(t, n = LABEL_CHARS) {
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

/** The graph's geometry: label columns as wide as the longest token (up to LABEL_CHARS characters), the whole
 * graph `width` CSS px wide. @param {number} lo @param {number} hi @param {number} n @param {string[]} tokens
 * @param {number} width */
export function graphLayout(lo, hi, n, tokens, width) {
  const longest = tokens.reduce((m, t) => Math.max(m, String(t).length), 4);
  const labelW = Math.round(16 + CHAR_PX * Math.min(LABEL_CHARS, longest));
  return flowLayout(lo, hi, n, { width, labelW });
}

/**
 * The edges by colour and level, in first-seen order: "kind:level" -> flat [l, i, j, ...]. Level k of LEVELS holds
 * the weights w with floor(w / maxW * LEVELS) = k (the strongest edge, w = maxW, in the top level).
 * @param {Edge[]} edges
 * @param {number} maxW
 * @returns {Map<string, number[]>}
 */
export function edgeGroups(edges, maxW) {
  /** @type {Map<string, number[]>} */
  const groups = new Map();
  for (const e of edges) {
    const level = Math.min(LEVELS - 1, Math.floor((e.w / maxW) * LEVELS));
    const key = `${e.kind}:${level}`;
    const arr = groups.get(key);
    if (arr) arr.push(e.l, e.i, e.j); else groups.set(key, [e.l, e.i, e.j]);
  }
  return groups;
}

/** An edge level's alpha and line width (level 0: faint and thin; LEVELS - 1: opaque, 3 px). @param {number} level */
export function edgeStyle(level) {
  const f = (level + 1) / LEVELS;
  return { alpha: 0.15 + 0.85 * f, width: 0.5 + 2.5 * f };
}

/** The half side of a node's square: half a row, between 1.5 and 5 px. @param {FlowLayout} L */
export function nodeRadius(L) {
  return Math.max(1.5, Math.min(5, L.rowH / 2 - 0.5));
}

/**
 * Paint the graph of node layers lo..hi. Edge (l, i, j) goes from node (l + 1, i) to (l, j); its colour is its
 * model's (MODEL_COLORS, SHARED_COLOR for shared edges; difference mode: which model is stronger). Nodes are
 * squares shaded by the token's weight (blues: model a, reds: model b, side by side for two models), tokens matched by
 * the query outlined in orange; the clicked node framed in black; bars of the classification attention in the left
 * margin; tokens labelled on both sides when rows are 7 px or more.
 * @param {CanvasRenderingContext2D} ctx
 * @param {FlowLayout} L
 * @param {{edges: Edge[], kind: "both" | "difference", lo: number, hi: number, M: number, B: number, N: number,
 *   nodes: ArrayLike<number>, cls: ArrayLike<number> | null, tokens: string[], matched: Set<number>,
 *   focus: FlowFocus, source: number}} spec nodes: [M, B + 1, N]; cls: [M, N] or null
 */
export function drawFlowGraph(ctx, L, spec) {
  const { edges, lo: a, hi: b, M, B, N, nodes, cls, tokens: toks, matched, focus } = spec;
  const maxW = edges.length ? edges[0].w : 1;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, L.width, L.height);
  const colours = spec.kind === "difference" ? MODEL_COLORS : [...MODEL_COLORS, SHARED_COLOR];
  for (const [key, list] of edgeGroups(edges, maxW)) {
    const [k, level] = key.split(":").map(Number);
    const style = edgeStyle(level);
    ctx.strokeStyle = colours[k] ?? SHARED_COLOR;
    ctx.globalAlpha = style.alpha;
    ctx.lineWidth = style.width;
    ctx.beginPath();
    for (let p = 0; p < list.length; p += 3) {
      ctx.moveTo(columnX(L, list[p] + 1 - a), nodeY(L, list[p + 1]));
      ctx.lineTo(columnX(L, list[p] - a), nodeY(L, list[p + 2]));
    }
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
  const r = nodeRadius(L);
  for (let layer = a; layer <= b; layer++) {
    const x = columnX(L, layer - a);
    let mx = 0;
    for (let m = 0; m < M; m++) for (let i = 0; i < N; i++) mx = Math.max(mx, nodes[(m * (B + 1) + layer) * N + i]);
    for (let i = 0; i < N; i++) {
      for (let m = 0; m < M; m++) {
        const v = nodes[(m * (B + 1) + layer) * N + i];
        ctx.fillStyle = css(color(m === 0 ? "blues" : "reds", mx > 0 ? 0.15 + 0.85 * (v / mx) : 0));
        ctx.fillRect(x - r + (M > 1 ? (m === 0 ? -r : r) : 0), nodeY(L, i) - r, 2 * r, 2 * r);
      }
      if (matched.has(i)) {
        ctx.strokeStyle = "#f0a000";
        ctx.lineWidth = 2;
        ctx.strokeRect(x - r * (M > 1 ? 2 : 1) - 2, nodeY(L, i) - r - 2, 2 * r * (M > 1 ? 2 : 1) + 4, 2 * r + 4);
      }
    }
  }
  if (focus && focus.layer >= a && focus.layer <= b) {
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 2;
    ctx.strokeRect(columnX(L, focus.layer - a) - 8, nodeY(L, focus.index) - L.rowH / 2, 16, L.rowH);
  }
  if (cls) {
    let cm = 0;
    for (let k = 0; k < cls.length; k++) cm = Math.max(cm, cls[k]);
    const bh = Math.max(1, (L.rowH - 2) / M);
    for (let m = 0; m < M; m++) {
      ctx.fillStyle = MODEL_COLORS[m];
      for (let i = 0; i < N; i++) {
        const w = cm > 0 ? (cls[m * N + i] / cm) * (L.barW - 4) : 0;
        ctx.fillRect(L.barW - w, L.top + i * L.rowH + 1 + m * bh, w, bh);
      }
    }
  }
  ctx.fillStyle = "#222";
  if (L.rowH >= 7) {
    ctx.font = `${Math.min(12, L.rowH - 1)}px sans-serif`;
    ctx.textBaseline = "middle";
    for (let i = 0; i < N; i++) {
      ctx.textAlign = "right";
      ctx.fillText(short(toks[i] ?? ""), L.left - 10 - (M > 1 ? 5 : 0), nodeY(L, i));
      ctx.textAlign = "left";
      ctx.fillText(short(toks[i] ?? ""), columnX(L, b - a) + 10 + (M > 1 ? 5 : 0), nodeY(L, i));
    }
  }
  ctx.font = "bold 11px sans-serif";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (let layer = a; layer <= b; layer++) ctx.fillText(layer === 0 ? "input" : `after ${layer - 1}`, columnX(L, layer - a), 9);
  ctx.textAlign = "left";
  ctx.fillText(`"${short(toks[spec.source] ?? "", 8)}" attn`, 2, 9);
}

/**
 * The note under the graph: how many edges are drawn of how many pass the threshold, what the cap hides, the clicked
 * token's paths, labels left out.
 * @param {{edges: Edge[], total: number, hidden: number}} sel
 * @param {{threshold: number, topK: number, focus: FlowFocus, tokens: string[], N: number}} ctx
 */
export function flowNote(sel, ctx) {
  const { threshold, topK, focus } = ctx;
  const parts = [`${sel.edges.length.toLocaleString("en")} edges drawn of ${sel.total.toLocaleString("en")} at or above ${sig3(threshold)}`];
  if (sel.hidden) parts.push(`${sel.hidden.toLocaleString("en")} weaker ones hidden by the cap of ${topK.toLocaleString("en")} (raise "at most" or the threshold)`);
  if (focus) parts.push(`only the paths through "${ctx.tokens[focus.index] ?? ""}" at layer ${focus.layer} ("all paths" clears)`);
  if (ctx.N > 256) parts.push("labels are left out below 7 px rows");
  return parts.join("; ");
}

/**
 * The items of the graph's data-checksum: the settings, then one number per edge drawn.
 * @param {Edge[]} edges
 * @param {{lo: number, hi: number, threshold: number, topK: number, kind: string, focus: FlowFocus}} s
 * @returns {(string | number)[]}
 */
export function flowSum(edges, s) {
  /** @type {(string | number)[]} */
  const sum = [s.lo, s.hi, s.threshold, s.topK, s.kind, s.focus ? `${s.focus.layer}:${s.focus.index}` : "-", edges.length];
  for (const e of edges) sum.push(e.kind * 1e6 + e.l * 1e4 + e.i * 100 + e.j);
  return sum;
}
