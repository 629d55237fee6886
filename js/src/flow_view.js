// @ts-check
/**
 * FlowView: attention flowing into the source token (the explained position: [CLS] of an encoder classifier, the
 * position a decoder predicts from) layer by layer (DeRose et al. 2020), for one model or two. Node layers run
 * left (inputs) to right (after the last block); an edge's width and alpha follow its weight (flow_layout.js).
 * Two models: shared edges neutral, each model's excess in its colour, or the difference b - a. Beside the inputs,
 * the last block's classification attention as bars. Below: the head grid coloured by the change between the models
 * (or by the attention to a query word); click a cell for that head's attention in both models.
 *
 * Traits read: tokens, names, source, nodes [M, B+1, N], edges [M, B, N, N], cls_attention [M, N], head_change and
 * head_similarity [B, H], threshold, top_k, layers, heads, mode, selected_head, head_maps [M, N, N], query,
 * query_scores [M, B, H], query_tokens, error, revision, scale, _static. Written: threshold, top_k, layers, mode
 * (browser); heads, selected_head, query (kernel).
 */
import { decodeFloat } from "./codec.js";
import { color, css, sig3 } from "./colormap.js";
import { headGrid, statusLine } from "./controls.js";
import { canvasPoint, checksum, context2d, control, h, zoomOf } from "./dom.js";
import { MODEL_COLORS, SHARED_COLOR, columnX, flowLayout, nodeAt, nodeY, selectEdges } from "./flow_layout.js";
import { cellOrigin, gridHit, gridLayout } from "./layout.js";
import { update } from "./model.js";
import { clamp, createView } from "./view.js";

/** Alpha levels edges are grouped into (one path per colour and level). */
const LEVELS = 6;

/** Token labels are cut to this many characters at most (the whole token is in the hover readout). */
const LABEL_CHARS = 24;
/** About one character's width at the labels' 12 px font. */
const CHAR_PX = 7.2;

/** @param {string} t @param {number} [n] */
function short(t, n = LABEL_CHARS) {
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

/** The flow graph's width: the output area's width at the view's zoom (a projector's scale 1.6 draws 1.6x larger,
 * so fewer CSS pixels fit), between 420 and 800 px; 800 before the output is laid out.
 * @param {HTMLElement} el @param {Element} inside */
export function availableWidth(el, inside) {
  const w = el.getBoundingClientRect ? el.getBoundingClientRect().width : 0;
  return w > 0 ? clamp(Math.floor(w / zoomOf(inside)) - 4, 420, 800) : 800;
}

/** The graph's geometry: label columns as wide as the longest token (up to LABEL_CHARS characters), the whole
 * graph `width` CSS px wide. @param {number} lo @param {number} hi @param {number} n @param {string[]} tokens
 * @param {number} width */
export function graphLayout(lo, hi, n, tokens, width) {
  const longest = tokens.reduce((m, t) => Math.max(m, String(t).length), 4);
  const labelW = Math.round(16 + CHAR_PX * Math.min(LABEL_CHARS, longest));
  return flowLayout(lo, hi, n, { width, labelW });
}

/** @param {import("./model.js").RenderArgs} args */
export function render({ model, el }) {
  const view = createView(model, el, "flow");
  const { doc, d, root, kernel, toKernel } = view;

  const legend = h(doc, "div", { class: "attnviz-flow-legend" });
  const thr = control(h(doc, "input", { class: "attnviz-flow-threshold", attrs: { type: "range", min: 0, max: 0.2, step: 0.001, "aria-label": "edge threshold" } }));
  const thrOut = h(doc, "span", { class: "attnviz-flow-threshold-readout" });
  d.listen(thr, "input", () => update(model, { threshold: Number(thr.value) }));
  const topK = control(h(doc, "input", { class: "attnviz-flow-topk", attrs: { type: "number", min: 1, max: 200000, step: 100, "aria-label": "most edges drawn" } }));
  d.listen(topK, "change", () => { const v = Math.round(Number(topK.value)); if (v >= 1) update(model, { top_k: v }); });
  const lo = control(h(doc, "input", { class: "attnviz-flow-lo", attrs: { type: "number", min: 0, step: 1, "aria-label": "first layer" } }));
  const hi = control(h(doc, "input", { class: "attnviz-flow-hi", attrs: { type: "number", min: 1, step: 1, "aria-label": "last layer" } }));
  const setRange = () => {
    const B = shape()?.[1] ?? 1;
    const a = clamp(Math.round(Number(lo.value)), 0, B - 1);
    const b = clamp(Math.round(Number(hi.value)), a + 1, B);
    update(model, { layers: [a, b] });
  };
  d.listen(lo, "change", setRange);
  d.listen(hi, "change", setRange);
  const mode = control(h(doc, "select", { class: "attnviz-flow-mode", attrs: { "aria-label": "two models" } }));
  mode.replaceChildren(h(doc, "option", { text: "both (shared in grey)", attrs: { value: "both" } }),
    h(doc, "option", { text: "difference b − a", attrs: { value: "difference" } }));
  d.listen(mode, "change", () => update(model, { mode: mode.value }));
  const query = control(h(doc, "input", { class: "attnviz-flow-query", attrs: { type: "search", placeholder: "which heads attend to…", "aria-label": "a word: which heads attend to it (Enter)" } }));
  const askQuery = () => { if (query.value !== (model.get("query") ?? "")) toKernel({ query: query.value }); };
  d.listen(query, "change", askQuery);
  d.listen(query, "keydown", (ev) => { if (/** @type {KeyboardEvent} */ (ev).key === "Enter") askQuery(); });
  const queryNote = h(doc, "span", { class: "attnviz-flow-query-note" });
  const clear = control(h(doc, "button", { class: "attnviz-flow-clear", text: "all paths", attrs: { type: "button" } }));
  d.listen(clear, "click", () => { focus = null; readout.textContent = " "; draw(); });
  const canvas = control(h(doc, "canvas", { class: "attnviz-flow-canvas", attrs: { tabindex: 0, "aria-label": "flow graph: click a token to keep only the paths through it" } }));
  const note = h(doc, "div", { class: "attnviz-lines-note attnviz-flow-note" });
  const readout = h(doc, "div", { class: "attnviz-readout", text: " " });
  const gridTitle = h(doc, "div", { class: "attnviz-flow-grid-title" });
  const gridCanvas = control(h(doc, "canvas", { class: "attnviz-flow-grid", attrs: { tabindex: 0, "aria-label": "heads: click one to open it for both models" } }));
  const pair = h(doc, "div", { class: "attnviz-flow-pair" });
  const heads = headGrid(doc, d, { onChange: (mask) => toKernel({ heads: mask }) });
  const status = statusLine(doc);
  const staticNote = h(doc, "div", { class: "attnviz-description", text: kernel ? "" : "static page: head toggles, the head pair and the query need a running kernel" });
  for (const c of [query]) /** @type {HTMLInputElement} */ (c).disabled = !kernel;

  root.append(
    legend,
    h(doc, "div", { class: "attnviz-toolbar", children: [
      h(doc, "label", { class: "attnviz-field", children: [h(doc, "span", { text: "edges ≥" }), thr, thrOut] }),
      h(doc, "label", { class: "attnviz-field", children: [h(doc, "span", { text: "at most" }), topK] }),
      h(doc, "label", { class: "attnviz-field", children: [h(doc, "span", { text: "layers" }), lo, h(doc, "span", { text: "to" }), hi] }),
      mode, query, queryNote, clear] }),
    staticNote,
    h(doc, "div", { class: "attnviz-canvas-wrap", children: [canvas] }),
    note,
    readout,
    gridTitle,
    h(doc, "div", { class: "attnviz-flow-panels", children: [gridCanvas, pair] }),
    heads.el,
    status.el,
  );

  /** @type {{layer: number, index: number} | null} absolute node layer */
  let focus = null;

  const floats = (/** @type {string} */ name) => view.floats(name);
  function shape() {
    const e = floats("edges");
    return e && e.shape.length === 4 ? e.shape : null;
  }
  function names() {
    return /** @type {string[]} */ ((model.get("names") ?? []).map(String));
  }
  function range() {
    const s = shape();
    const B = s ? s[1] : 1;
    const r = model.get("layers") ?? [0, B];
    const a = clamp(Number(r[0] ?? 0), 0, B - 1);
    return [a, clamp(Number(r[1] ?? B), a + 1, B)];
  }
  function layout() {
    const s = shape();
    const [a, b] = range();
    return graphLayout(a, b, s ? s[2] : 0, /** @type {string[]} */ (model.get("tokens") ?? []), availableWidth(el, root));
  }

  function syncControls() {
    const s = shape();
    const M = s ? s[0] : 1;
    const B = s ? s[1] : 1;
    const t = Number(model.get("threshold") ?? 0.01);
    thr.value = String(t);
    thrOut.textContent = sig3(t);
    topK.value = String(model.get("top_k") ?? 2000);
    const [a, b] = range();
    lo.max = String(B - 1);
    hi.max = String(B);
    lo.value = String(a);
    hi.value = String(b);
    mode.value = model.get("mode") === "difference" ? "difference" : "both";
    mode.hidden = M < 2;
    const ns = names();
    legend.replaceChildren(...ns.map((n, m) => h(doc, "span", { class: "attnviz-flow-name", text: n, style: { color: MODEL_COLORS[m] ?? "#333" } })),
      ...(M > 1 ? [h(doc, "span", { class: "attnviz-flow-name", text: mode.value === "difference" ? "(colour: which model's edge is stronger)" : "shared", style: { color: SHARED_COLOR } })] : []));
    if (doc.activeElement !== query) query.value = model.get("query") ?? "";
    const asked = String(model.get("query") ?? "").trim();
    const found = (model.get("query_tokens") ?? []).length;
    queryNote.textContent = asked && !found && !root.hasAttribute("data-pending")
      ? `no token of this input is "${asked}" (a word split into pieces matches piece by piece)` : "";
    heads.update(model.get("heads"), { enabled: kernel, note: "heads: toggles recompute the graph in the kernel" });
    status.update(model.get("error"));
  }

  function drawGraph() {
    const E = floats("edges");
    const nodes = floats("nodes");
    if (!E || !nodes) return { checksum: "empty" };
    const [M, B, N] = E.shape;
    const [a, b] = range();
    const L = layout();
    const threshold = Number(model.get("threshold") ?? 0.01);
    const topK = Number(model.get("top_k") ?? 2000);
    const kind = M > 1 && model.get("mode") === "difference" ? "difference" : "both";
    const sel = selectEdges(E.data, E.shape, { lo: a, hi: b, threshold, topK, mode: kind, focus });
    const toks = /** @type {string[]} */ ((model.get("tokens") ?? []).map(String));
    const matched = new Set((model.get("query_tokens") ?? []).map(Number));
    const ctx = context2d(canvas, L.width, L.height);
    const maxW = sel.edges.length ? sel.edges[0].w : 1;
    if (ctx) {
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, L.width, L.height);
      const colours = kind === "difference" ? MODEL_COLORS : [...MODEL_COLORS, SHARED_COLOR];
      /** @type {Map<string, number[]>} */
      const groups = new Map();
      for (const e of sel.edges) {
        const level = Math.min(LEVELS - 1, Math.floor((e.w / maxW) * LEVELS));
        const key = `${e.kind}:${level}`;
        const arr = groups.get(key);
        if (arr) arr.push(e.l, e.i, e.j); else groups.set(key, [e.l, e.i, e.j]);
      }
      for (const [key, list] of groups) {
        const [k, level] = key.split(":").map(Number);
        ctx.strokeStyle = colours[k] ?? SHARED_COLOR;
        ctx.globalAlpha = 0.15 + 0.85 * ((level + 1) / LEVELS);
        ctx.lineWidth = 0.5 + 2.5 * ((level + 1) / LEVELS);
        ctx.beginPath();
        for (let p = 0; p < list.length; p += 3) {
          ctx.moveTo(columnX(L, list[p] + 1 - a), nodeY(L, list[p + 1]));
          ctx.lineTo(columnX(L, list[p] - a), nodeY(L, list[p + 2]));
        }
        ctx.stroke();
      }
      ctx.globalAlpha = 1;
      // nodes: shaded by the token's weight R_l (per model side by side), matched query tokens outlined
      const r = Math.max(1.5, Math.min(5, L.rowH / 2 - 0.5));
      for (let layer = a; layer <= b; layer++) {
        const x = columnX(L, layer - a);
        let mx = 0;
        for (let m = 0; m < M; m++) for (let i = 0; i < N; i++) mx = Math.max(mx, nodes.data[(m * (B + 1) + layer) * N + i]);
        for (let i = 0; i < N; i++) {
          for (let m = 0; m < M; m++) {
            const v = nodes.data[(m * (B + 1) + layer) * N + i];
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
      // the last block's classification attention as bars beside the inputs
      const cls = floats("cls_attention");
      if (cls) {
        let cm = 0;
        for (let k = 0; k < cls.data.length; k++) cm = Math.max(cm, cls.data[k]);
        const bh = Math.max(1, (L.rowH - 2) / M);
        for (let m = 0; m < M; m++) {
          ctx.fillStyle = MODEL_COLORS[m];
          for (let i = 0; i < N; i++) {
            const w = cm > 0 ? (cls.data[m * N + i] / cm) * (L.barW - 4) : 0;
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
      const src = Number(model.get("source") ?? 0);
      ctx.fillText(`"${short(toks[src] ?? "", 8)}" attn`, 2, 9);
    }
    const parts = [`${sel.edges.length.toLocaleString("en")} edges drawn of ${sel.total.toLocaleString("en")} at or above ${sig3(threshold)}`];
    if (sel.hidden) parts.push(`${sel.hidden.toLocaleString("en")} weaker ones hidden by the cap of ${topK.toLocaleString("en")} (raise "at most" or the threshold)`);
    if (focus) parts.push(`only the paths through "${toks[focus.index] ?? ""}" at layer ${focus.layer} ("all paths" clears)`);
    if (N > 256) parts.push("labels are left out below 7 px rows");
    note.textContent = parts.join("; ");
    /** @type {(string | number)[]} */
    const sum = [a, b, threshold, topK, kind, focus ? `${focus.layer}:${focus.index}` : "-", sel.edges.length];
    for (const e of sel.edges) sum.push(e.kind * 1e6 + e.l * 1e4 + e.i * 100 + e.j);
    return { models: M, edges: sel.edges.length, "edges-total": sel.total, "edges-hidden": sel.hidden,
      focus: focus ? `${focus.layer}:${focus.index}` : "", "layer-range": `${a}-${b}`, mode: kind,
      "num-tokens": N, "graph-left": L.left, "graph-top": L.top, "row-height": L.rowH, "graph-width": L.width,
      checksum: checksum(sum) };
  }

  function gridValues() {
    const q = floats("query_scores");
    if (q && q.shape.length === 3) {
      const [M, B, H] = q.shape;
      return { values: q.data.subarray(0, B * H), B, H, title: `attention to "${model.get("query")}" (mean over queries, ${names()[0] ?? "a"}${M > 1 ? `; ${names()[1]} in the tooltip` : ""})`, q };
    }
    const c = floats("head_change");
    if (c && c.shape.length === 2) {
      return { values: c.data, B: c.shape[0], H: c.shape[1], title: "change per head (Jensen-Shannon divergence of the attention rows, 0 = identical): click one to open it for both models", q: null };
    }
    return null;
  }

  function gridGeometry() {
    const g = gridValues();
    return g ? gridLayout(g.B, g.H, { cell: 22, gap: 2, left: 30, top: 16 }) : null;
  }

  /** The colour of a grid cell: white for exactly 0 (identical attention), reds above it. @param {number} v @param {number} mx */
  function cellColour(v, mx) {
    return v === 0 ? "#ffffff" : css(color("reds", mx > 0 ? 0.08 + 0.92 * (v / mx) : 0));
  }

  function drawGrid() {
    const g = gridValues();
    const G = gridGeometry();
    gridCanvas.hidden = !g;
    gridTitle.textContent = g ? g.title : "";
    if (!g || !G) return;
    const LEGEND_H = 30;
    const width = Math.max(G.width, G.left + 14 + 120 + 110);
    const ctx = context2d(gridCanvas, width, G.height + LEGEND_H);
    let mx = 0;
    for (let k = 0; k < g.values.length; k++) mx = Math.max(mx, g.values[k]);
    root.setAttribute("data-grid-max", sig3(mx));
    if (!ctx) return;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, width, G.height + LEGEND_H);
    // the colour legend: white = exactly 0, then reds up to the largest value
    const barX = G.left, barY = G.height + 4, barW = 120, barH = 8;
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(barX, barY, 10, barH);
    ctx.strokeStyle = "#bbb";
    ctx.lineWidth = 1;
    ctx.strokeRect(barX + 0.5, barY + 0.5, 9, barH - 1);
    for (let x = 0; x < barW; x++) {
      ctx.fillStyle = cellColour((mx * (x + 1)) / barW, mx);
      ctx.fillRect(barX + 14 + x, barY, 1, barH);
    }
    ctx.fillStyle = "#333";
    ctx.font = "10px sans-serif";
    ctx.textAlign = "left";
    ctx.textBaseline = "top";
    ctx.fillText("0", barX + 2, barY + barH + 2);
    ctx.textAlign = "right";
    ctx.fillText(mx > 0 ? sig3(mx) : "0", barX + 14 + barW, barY + barH + 2);
    ctx.textAlign = "left";
    ctx.fillText(g.q ? "" : "white: identical", barX + 20 + barW, barY);
    const sel = model.get("selected_head") ?? [];
    ctx.font = "10px sans-serif";
    ctx.fillStyle = "#333";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (let hd = 0; hd < g.H; hd++) ctx.fillText(String(hd), cellOrigin(G, 0, hd).x + G.cell / 2, 8);
    ctx.textAlign = "right";
    for (let l = 0; l < g.B; l++) ctx.fillText(String(l), G.left - 4, cellOrigin(G, l, 0).y + G.cell / 2);
    for (let l = 0; l < g.B; l++) {
      for (let hd = 0; hd < g.H; hd++) {
        const o = cellOrigin(G, l, hd);
        const v = g.values[l * g.H + hd];
        ctx.fillStyle = cellColour(v, mx);
        ctx.fillRect(o.x, o.y, G.cell, G.cell);
        ctx.strokeStyle = sel.length === 2 && sel[0] === l && sel[1] === hd ? "#000" : "#ddd";
        ctx.lineWidth = sel.length === 2 && sel[0] === l && sel[1] === hd ? 2 : 1;
        ctx.strokeRect(o.x + 0.5, o.y + 0.5, G.cell - 1, G.cell - 1);
      }
    }
    root.setAttribute("data-grid", `${g.B}x${g.H}`);
  }

  /** @type {{margin: number, cell: number, N: number} | null} the head maps' geometry, for the hover readout */
  let pairGeometry = null;
  d.listen(pair, "mousemove", (ev) => {
    const c = ev.target instanceof HTMLCanvasElement ? ev.target : null;
    const maps = floats("head_maps");
    const sel = model.get("selected_head") ?? [];
    if (!c || !pairGeometry || !maps || sel.length !== 2) return;
    const { margin, cell, N } = pairGeometry;
    const m = Number(c.getAttribute("data-model") ?? 0);
    const p = canvasPoint(/** @type {MouseEvent} */ (ev), c);
    const i = Math.floor((p.y - margin) / cell);
    const j = Math.floor((p.x - margin) / cell);
    if (i < 0 || j < 0 || i >= N || j >= N) return;
    const toks = /** @type {string[]} */ (model.get("tokens") ?? []);
    readout.textContent = `${names()[m] ?? m}, block ${sel[0]} head ${sel[1]}: "${toks[i] ?? ""}" attends to "${toks[j] ?? ""}" with ${sig3(maps.data[(m * N + i) * N + j])}`;
  });

  function drawPair() {
    const maps = floats("head_maps");
    const sel = model.get("selected_head") ?? [];
    if (!maps || maps.shape.length !== 3 || sel.length !== 2) {
      pair.replaceChildren();
      root.removeAttribute("data-pair");
      return;
    }
    const [M, N] = maps.shape;
    const size = Math.min(240, Math.max(120, 2 * N));
    const cell = size / N;
    const toks = /** @type {string[]} */ ((model.get("tokens") ?? []).map(String));
    const labelled = cell >= 6;  // token labels on both axes when a row is tall enough to read; else hover only
    const margin = labelled ? Math.round(8 + 5.6 * Math.min(12, toks.reduce((mx, t) => Math.max(mx, t.length), 1))) : 0;
    const ns = names();
    root.setAttribute("data-pair-labels", String(labelled));
    pairGeometry = { margin, cell, N };
    pair.replaceChildren(...Array.from({ length: M }, (_, m) => {
      const c = h(doc, "canvas", { class: "attnviz-flow-head-map", attrs: { "data-model": m } });
      const ctx = context2d(c, size + margin, size + margin);
      if (ctx) {
        ctx.fillStyle = "#fff";
        ctx.fillRect(0, 0, size + margin, size + margin);
        let mx = 0;
        for (let k = 0; k < N * N; k++) mx = Math.max(mx, maps.data[m * N * N + k]);
        for (let i = 0; i < N; i++) {
          for (let j = 0; j < N; j++) {
            const v = maps.data[(m * N + i) * N + j];
            ctx.fillStyle = css(color(m === 0 ? "blues" : "reds", mx > 0 ? Math.sqrt(v / mx) : 0));
            ctx.fillRect(margin + j * cell, margin + i * cell, Math.ceil(cell), Math.ceil(cell));
          }
        }
        if (labelled) {
          ctx.fillStyle = "#333";
          ctx.font = `${Math.min(10, Math.floor(cell))}px sans-serif`;
          ctx.textBaseline = "middle";
          ctx.textAlign = "right";
          for (let i = 0; i < N; i++) ctx.fillText(short(toks[i] ?? "", 12), margin - 3, margin + (i + 0.5) * cell);
          ctx.save();
          ctx.rotate(-Math.PI / 2);
          ctx.textAlign = "left";
          for (let j = 0; j < N; j++) ctx.fillText(short(toks[j] ?? "", 12), -margin + 3, margin + (j + 0.5) * cell);
          ctx.restore();
        }
      }

      return h(doc, "figure", { class: "attnviz-flow-pair-item", children: [
        h(doc, "figcaption", { text: `${ns[m] ?? `model ${m}`}: block ${sel[0]}, head ${sel[1]} (row = query, column = key${labelled ? "" : "; hover for the tokens"})` }), c] });
    }));
    root.setAttribute("data-pair", `${sel[0]}:${sel[1]}:${M}`);
  }

  function draw() {
    syncControls();
    view.draw(() => {
      const attrs = drawGraph();
      drawGrid();
      drawPair();
      return attrs;
    });
  }

  d.listen(canvas, "click", (ev) => {
    const p = canvasPoint(/** @type {MouseEvent} */ (ev), canvas);
    const hit = nodeAt(layout(), p.x, p.y);
    const [a] = range();
    focus = hit ? { layer: hit.layer + a, index: hit.index } : null;
    draw();
  });
  d.listen(canvas, "mousemove", (ev) => {
    const p = canvasPoint(/** @type {MouseEvent} */ (ev), canvas);
    const hit = nodeAt(layout(), p.x, p.y);
    const nodes = floats("nodes");
    const s = shape();
    if (!hit || !nodes || !s) { readout.textContent = " "; return; }
    const [M, B, N] = s;
    const layer = hit.layer + range()[0];
    const ns = names();
    const vals = Array.from({ length: M }, (_, m) => `${ns[m] ?? m} ${sig3(nodes.data[(m * (B + 1) + layer) * N + hit.index])}`);
    const tok = /** @type {string[]} */ (model.get("tokens") ?? [])[hit.index] ?? "";
    readout.textContent = `"${tok}" ${layer === 0 ? "at the input" : `after block ${layer - 1}`}: share of the flow into the source ${vals.join(", ")} (click: only its paths)`;
  });
  d.listen(gridCanvas, "click", (ev) => {
    const G = gridGeometry();
    if (!G || !kernel) return;
    const p = canvasPoint(/** @type {MouseEvent} */ (ev), gridCanvas);
    const hit = gridHit(G, p.x, p.y);
    if (hit) toKernel({ selected_head: [hit.row, hit.col] });
  });
  d.listen(gridCanvas, "mousemove", (ev) => {
    const G = gridGeometry();
    const g = gridValues();
    if (!G || !g) return;
    const p = canvasPoint(/** @type {MouseEvent} */ (ev), gridCanvas);
    const hit = gridHit(G, p.x, p.y);
    if (!hit) return;
    const k = hit.row * g.H + hit.col;
    const sim = floats("head_similarity");
    readout.textContent = g.q
      ? `block ${hit.row}, head ${hit.col}: ${names().map((n, m) => `${n} ${sig3(/** @type {any} */ (g.q).data[m * g.B * g.H + k])}`).join(", ")}`
      : `block ${hit.row}, head ${hit.col}: JSD ${sig3(g.values[k])}${sim ? `, Pearson r ${sig3(sim.data[k])}` : ""} (click to open)`;
  });

  // the graph follows the output area's width (a projector's zoom, a narrower notebook)
  if (typeof ResizeObserver === "function") {
    let lastWidth = availableWidth(el, root);
    const observer = new ResizeObserver(() => {
      const w = availableWidth(el, root);
      if (w !== lastWidth) { lastWidth = w; draw(); }
    });
    observer.observe(el);
    d.add(() => observer.disconnect());
  }

  draw();
  for (const name of ["nodes", "edges", "cls_attention", "head_change", "head_similarity", "threshold", "top_k", "layers", "heads",
    "mode", "selected_head", "head_maps", "query_scores", "query_tokens", "names", "tokens", "scale"]) d.on(model, `change:${name}`, draw);
  for (const name of ["error", "query", "revision"]) d.on(model, `change:${name}`, syncControls);
  return () => d.dispose();
}

export default { render };
