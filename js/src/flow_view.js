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
import { sig3 } from "./colormap.js";
import { headGrid, statusLine } from "./controls.js";
import { canvasPoint, checksum, context2d, control, h, zoomOf } from "./dom.js";
import { drawFlowGraph, flowNote, flowSum, graphLayout } from "./flow_draw.js";
import { drawHeadGrid, drawHeadMap, headGrid as headGridLayout, legendLayout, maxOf, pairHit, pairLayout } from "./flow_grid.js";
import { MODEL_COLORS, SHARED_COLOR, nodeAt, selectEdges } from "./flow_layout.js";
import { gridHit } from "./layout.js";
import { update } from "./model.js";
import { clamp, createView } from "./view.js";

export { graphLayout };

/** The flow graph's width: the output area's width at the view's zoom (a projector's scale 1.6 draws 1.6x larger,
 * so fewer CSS pixels fit), between 420 and 800 px; 800 before the output is laid out.
 * @param {HTMLElement} el @param {Element} inside */
export function availableWidth(el, inside) {
  const w = el.getBoundingClientRect ? el.getBoundingClientRect().width : 0;
  return w > 0 ? clamp(Math.floor(w / zoomOf(inside)) - 4, 420, 800) : 800;
}

/**
 * @typedef {import("./model.js").Model} Model
 * @typedef {number[] | null} Shape the edges' [M, B, N, N], or null before they arrive
 */

/** The node layers shown, [a, b] with 0 <= a < b <= B. @param {Model} model @param {Shape} s */
function layerRange(model, s) {
  const B = s ? s[1] : 1;
  const r = model.get("layers") ?? [0, B];
  const a = clamp(Number(r[0] ?? 0), 0, B - 1);
  return [a, clamp(Number(r[1] ?? B), a + 1, B)];
}

/** @param {Model} model */
function modelNames(model) {
  return /** @type {string[]} */ ((model.get("names") ?? []).map(String));
}

/**
 * The view's elements, appended to `root`; the controls that only write a trait (or ask the kernel) are wired here.
 * @param {Document} doc
 * @param {import("./dom.js").Disposer} d
 * @param {Model} model
 * @param {HTMLElement} root
 * @param {{kernel: boolean, toKernel: (values: Record<string, any>) => void, shape: () => Shape, clear: () => void}} opts
 *   clear: the "all paths" button
 */
function elements(doc, d, model, root, opts) {
  const { kernel, toKernel } = opts;
  const legend = h(doc, "div", { class: "attnviz-flow-legend" });
  const thr = control(h(doc, "input", { class: "attnviz-flow-threshold", attrs: { type: "range", min: 0, max: 0.2, step: 0.001, "aria-label": "edge threshold" } }));
  const thrOut = h(doc, "span", { class: "attnviz-flow-threshold-readout" });
  d.listen(thr, "input", () => update(model, { threshold: Number(thr.value) }));
  const topK = control(h(doc, "input", { class: "attnviz-flow-topk", attrs: { type: "number", min: 1, max: 200000, step: 100, "aria-label": "most edges drawn" } }));
  d.listen(topK, "change", () => { const v = Math.round(Number(topK.value)); if (v >= 1) update(model, { top_k: v }); });
  const lo = control(h(doc, "input", { class: "attnviz-flow-lo", attrs: { type: "number", min: 0, step: 1, "aria-label": "first layer" } }));
  const hi = control(h(doc, "input", { class: "attnviz-flow-hi", attrs: { type: "number", min: 1, step: 1, "aria-label": "last layer" } }));
  const setRange = () => {
    const B = opts.shape()?.[1] ?? 1;
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
  d.listen(clear, "click", opts.clear);
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
  return { legend, thr, thrOut, topK, lo, hi, mode, query, queryNote, canvas, note, readout, gridTitle, gridCanvas, pair,
    heads, status };
}

/**
 * Bring the controls up to date with the model.
 * @param {Document} doc
 * @param {ReturnType<typeof elements>} ui
 * @param {Model} model
 * @param {Shape} s
 * @param {{root: HTMLElement, kernel: boolean}} view
 */
function syncControls(doc, ui, model, s, view) {
  const M = s ? s[0] : 1;
  const B = s ? s[1] : 1;
  const t = Number(model.get("threshold") ?? 0.01);
  ui.thr.value = String(t);
  ui.thrOut.textContent = sig3(t);
  ui.topK.value = String(model.get("top_k") ?? 2000);
  const [a, b] = layerRange(model, s);
  ui.lo.max = String(B - 1);
  ui.hi.max = String(B);
  ui.lo.value = String(a);
  ui.hi.value = String(b);
  ui.mode.value = model.get("mode") === "difference" ? "difference" : "both";
  ui.mode.hidden = M < 2;
  const ns = modelNames(model);
  ui.legend.replaceChildren(...ns.map((n, m) => h(doc, "span", { class: "attnviz-flow-name", text: n, style: { color: MODEL_COLORS[m] ?? "#333" } })),
    ...(M > 1 ? [h(doc, "span", { class: "attnviz-flow-name", text: ui.mode.value === "difference" ? "(colour: which model's edge is stronger)" : "shared", style: { color: SHARED_COLOR } })] : []));
  if (doc.activeElement !== ui.query) ui.query.value = model.get("query") ?? "";
  const asked = String(model.get("query") ?? "").trim();
  const found = (model.get("query_tokens") ?? []).length;
  ui.queryNote.textContent = asked && !found && !view.root.hasAttribute("data-pending")
    ? `no token of this input is "${asked}" (a word split into pieces matches piece by piece)` : "";
  ui.heads.update(model.get("heads"), { enabled: view.kernel, note: "heads: toggles recompute the graph in the kernel" });
  ui.status.update(model.get("error"));
}

/** @param {import("./model.js").RenderArgs} args */
export function render({ model, el }) {
  const view = createView(model, el, "flow");
  const { doc, d, root, kernel, toKernel } = view;
  /** @type {{layer: number, index: number} | null} absolute node layer */
  let focus = null;
  const floats = (/** @type {string} */ name) => view.floats(name);
  function shape() {
    const e = floats("edges");
    return e && e.shape.length === 4 ? e.shape : null;
  }
  const names = () => modelNames(model);
  const range = () => layerRange(model, shape());
  const tokens = () => /** @type {string[]} */ ((model.get("tokens") ?? []).map(String));
  function layout() {
    const s = shape();
    const [a, b] = range();
    return graphLayout(a, b, s ? s[2] : 0, /** @type {string[]} */ (model.get("tokens") ?? []), availableWidth(el, root));
  }
  const ui = elements(doc, d, model, root, { kernel, toKernel, shape, clear: () => { focus = null; ui.readout.textContent = " "; draw(); } });
  const { canvas, note, readout, gridTitle, gridCanvas, pair } = ui;
  const syncAll = () => syncControls(doc, ui, model, shape(), { root, kernel });

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
    const toks = tokens();
    const matched = new Set((model.get("query_tokens") ?? []).map(Number));
    const ctx = context2d(canvas, L.width, L.height);
    if (ctx) {
      const cls = floats("cls_attention");
      drawFlowGraph(ctx, L, { edges: sel.edges, kind, lo: a, hi: b, M, B, N, nodes: nodes.data, cls: cls ? cls.data : null,
        tokens: toks, matched, focus, source: Number(model.get("source") ?? 0) });
    }
    note.textContent = flowNote(sel, { threshold, topK, focus, tokens: toks, N });
    return { models: M, edges: sel.edges.length, "edges-total": sel.total, "edges-hidden": sel.hidden,
      focus: focus ? `${focus.layer}:${focus.index}` : "", "layer-range": `${a}-${b}`, mode: kind,
      "num-tokens": N, "graph-left": L.left, "graph-top": L.top, "row-height": L.rowH, "graph-width": L.width,
      checksum: checksum(flowSum(sel.edges, { lo: a, hi: b, threshold, topK, kind, focus })) };
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
    return g ? headGridLayout(g.B, g.H) : null;
  }

  function drawGrid() {
    const g = gridValues();
    const G = gridGeometry();
    gridCanvas.hidden = !g;
    gridTitle.textContent = g ? g.title : "";
    if (!g || !G) return;
    const { width, height } = legendLayout(G);
    const ctx = context2d(gridCanvas, width, height);
    const mx = maxOf(g.values);
    root.setAttribute("data-grid-max", sig3(mx));
    if (!ctx) return;
    drawHeadGrid(ctx, G, { values: g.values, max: mx, selected: model.get("selected_head") ?? [], query: Boolean(g.q) });
    root.setAttribute("data-grid", `${g.B}x${g.H}`);
  }

  /** @type {import("./flow_grid.js").PairLayout | null} the head maps' geometry, for the hover readout */
  let pairGeometry = null;
  d.listen(pair, "mousemove", (ev) => {
    const c = ev.target instanceof HTMLCanvasElement ? ev.target : null;
    const maps = floats("head_maps");
    const sel = model.get("selected_head") ?? [];
    if (!c || !pairGeometry || !maps || sel.length !== 2) return;
    const { N } = pairGeometry;
    const m = Number(c.getAttribute("data-model") ?? 0);
    const p = canvasPoint(/** @type {MouseEvent} */ (ev), c);
    const hit = pairHit(pairGeometry, p.x, p.y);
    if (!hit) return;
    const toks = /** @type {string[]} */ (model.get("tokens") ?? []);
    readout.textContent = `${names()[m] ?? m}, block ${sel[0]} head ${sel[1]}: "${toks[hit.i] ?? ""}" attends to "${toks[hit.j] ?? ""}" with ${sig3(maps.data[(m * N + hit.i) * N + hit.j])}`;
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
    const toks = tokens();
    const P = pairLayout(N, toks);
    const ns = names();
    root.setAttribute("data-pair-labels", String(P.labelled));
    pairGeometry = P;
    pair.replaceChildren(...Array.from({ length: M }, (_, m) => {
      const c = h(doc, "canvas", { class: "attnviz-flow-head-map", attrs: { "data-model": m } });
      const ctx = context2d(c, P.size + P.margin, P.size + P.margin);
      if (ctx) drawHeadMap(ctx, P, { maps: maps.data, m, tokens: toks });
      return h(doc, "figure", { class: "attnviz-flow-pair-item", children: [
        h(doc, "figcaption", { text: `${ns[m] ?? `model ${m}`}: block ${sel[0]}, head ${sel[1]} (row = query, column = key${P.labelled ? "" : "; hover for the tokens"})` }), c] });
    }));
    root.setAttribute("data-pair", `${sel[0]}:${sel[1]}:${M}`);
  }

  function draw() {
    syncAll();
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
  for (const name of ["error", "query", "revision"]) d.on(model, `change:${name}`, syncAll);
  return () => d.dispose();
}

export default { render };
