import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { encodeHalf } from "../src/codec.js";
import { columnX, flowLayout, nodeAt, nodeY, selectEdges, throughNode } from "../src/flow_layout.js";
import { availableWidth, graphLayout, render } from "../src/flow_view.js";
import { fakeModel, mulberry, push, recordingCanvas, trackListeners, unsuppressed, XSS } from "./helpers.js";

/** Random flow-like edges [M, B, N, N]. */
function randomEdges(M, B, N, seed = 3) {
  const rnd = mulberry(seed);
  return Float32Array.from({ length: M * B * N * N }, () => rnd() ** 3 * 0.2);
}

describe("selectEdges", () => {
  const M = 2; const B = 3; const N = 5;
  const E = randomEdges(M, B, N);
  const at = (m, l, i, j) => E[((m * B + l) * N + i) * N + j];

  test("one model: exactly the weights at or above the threshold, strongest first", () => {
    const one = E.subarray(0, B * N * N);
    for (const thr of [0, 0.01, 0.05]) {
      const sel = selectEdges(one, [1, B, N, N], { lo: 0, hi: B, threshold: thr, topK: 1e9 });
      let expected = 0;
      for (let k = 0; k < B * N * N; k++) if (one[k] >= Math.max(thr, 1e-12)) expected++;
      expect(sel.total).toBe(expected);
      for (let k = 1; k < sel.edges.length; k++) expect(sel.edges[k - 1].w).toBeGreaterThanOrEqual(sel.edges[k].w);
    }
  });

  test("two models: shared = min(a, b) and each model's excess; difference = |b - a| with its sign", () => {
    const sel = selectEdges(E, [M, B, N, N], { lo: 0, hi: B, threshold: 0, topK: 1e9 });
    for (const e of sel.edges) {
      const a = at(0, e.l, e.i, e.j); const b = at(1, e.l, e.i, e.j);
      const expected = e.kind === 2 ? Math.min(a, b) : e.kind === 0 ? a - Math.min(a, b) : b - Math.min(a, b);
      expect(e.w).toBeCloseTo(expected, 7);
    }
    const diff = selectEdges(E, [M, B, N, N], { lo: 0, hi: B, threshold: 0.01, topK: 1e9, mode: "difference" });
    let expected = 0;
    for (let l = 0; l < B; l++) for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) {
      if (Math.abs(at(1, l, i, j) - at(0, l, i, j)) >= 0.01) expected++;
    }
    expect(diff.total).toBe(expected);
    for (const e of diff.edges) expect(e.kind).toBe(at(1, e.l, e.i, e.j) >= at(0, e.l, e.i, e.j) ? 1 : 0);
  });

  test("top-k keeps the strongest and counts the rest; the layer range restricts blocks", () => {
    const all = selectEdges(E, [M, B, N, N], { lo: 0, hi: B, threshold: 0.005, topK: 1e9 });
    const cut = selectEdges(E, [M, B, N, N], { lo: 0, hi: B, threshold: 0.005, topK: 7 });
    expect(cut.edges.length).toBe(7);
    expect(cut.hidden).toBe(all.total - 7);
    expect(cut.edges.map((e) => e.w)).toEqual(all.edges.slice(0, 7).map((e) => e.w));
    const mid = selectEdges(E, [M, B, N, N], { lo: 1, hi: 2, threshold: 0, topK: 1e9 });
    expect(new Set(mid.edges.map((e) => e.l))).toEqual(new Set([1]));
  });

  test("paths through a node: below it reachable going down, above it reaching it", () => {
    // a chain: block 1 (layer 2 -> 1): 0 -> 1, 2 -> 3; block 0 (layer 1 -> 0): 1 -> 4, 3 -> 0
    const list = [{ kind: 0, l: 1, i: 0, j: 1, w: 1 }, { kind: 0, l: 1, i: 2, j: 3, w: 1 },
      { kind: 0, l: 0, i: 1, j: 4, w: 1 }, { kind: 0, l: 0, i: 3, j: 0, w: 1 }];
    const through = throughNode(list, { layer: 1, index: 1 }, 0, 2, 5);
    expect(through.map((e) => `${e.l}:${e.i}>${e.j}`).sort()).toEqual(["0:1>4", "1:0>1"]);
    expect(throughNode(list, { layer: 0, index: 0 }, 0, 2, 5).map((e) => `${e.l}:${e.i}>${e.j}`).sort()).toEqual(["0:3>0", "1:2>3"]);
  });

  test("layout: inputs on the left, one column per node layer, hits find their node", () => {
    const L = flowLayout(0, 6, 10);
    expect(columnX(L, 0)).toBeLessThan(columnX(L, 6));
    expect(nodeAt(L, columnX(L, 3), nodeY(L, 4))).toEqual({ layer: 3, index: 4 });
    expect(nodeAt(L, (columnX(L, 3) + columnX(L, 4)) / 2, nodeY(L, 4))).toBeNull();
  });
});

function state(M, B, N, over = {}) {
  const tokens = Array.from({ length: N }, (_, i) => (i === 2 ? XSS : `t${i}`));
  const E = randomEdges(M, B, N);
  const nodes = Float32Array.from({ length: M * (B + 1) * N }, (_, k) => ((k * 7) % 11) / 11);
  return { tokens, names: M > 1 ? ["pre", "fine"] : ["model"], source: 0, nodes: encodeHalf(Array.from(nodes), [M, B + 1, N]),
    edges: encodeHalf(Array.from(E), [M, B, N, N]), cls_attention: encodeHalf(Array.from({ length: M * N }, () => 1 / N), [M, N]),
    head_change: M > 1 ? { dtype: "float32", shape: [B, 2], buffer: new Float32Array(Array.from({ length: B * 2 }, (_, k) => k / 10)).buffer, scale: 1 } : { dtype: "float32", shape: [0], buffer: new ArrayBuffer(0), scale: 1 },
    head_similarity: { dtype: "float32", shape: [0], buffer: new ArrayBuffer(0), scale: 1 },
    threshold: 0.01, top_k: 2000, layers: [0, B], heads: Array.from({ length: B }, () => [true, true]), mode: "both",
    selected_head: [], head_maps: { dtype: "float16", shape: [0], buffer: new ArrayBuffer(0), scale: 1 }, query: "",
    query_scores: { dtype: "float32", shape: [0], buffer: new ArrayBuffer(0), scale: 1 }, query_tokens: [],
    error: "", revision: 0, ...over };
}

describe("FlowView", () => {
  let el;
  let rec;
  beforeEach(() => {
    el = document.createElement("div");
    document.body.appendChild(el);
    rec = recordingCanvas(vi);
  });
  afterEach(() => { rec.restore(); el.remove(); });
  const root = () => el.querySelector(".attnviz-flow-view");

  test("draws the selected edges; tokens are canvas text; the threshold slider changes what is drawn", () => {
    const model = fakeModel(state(2, 3, 6));
    render({ model, el });
    const drawn = Number(root().getAttribute("data-edges"));
    expect(drawn).toBeGreaterThan(0);
    expect(rec.calls.lineTo).toBe(drawn);
    expect(el.querySelector("img")).toBeNull();
    expect(rec.calls.fillText.some((t) => t.startsWith(XSS.slice(0, 8)))).toBe(true);
    expect([...el.querySelectorAll(".attnviz-flow-name")].map((s) => s.textContent)).toEqual(["pre", "fine", "shared"]);
    const slider = el.querySelector(".attnviz-flow-threshold");
    slider.value = "0.05";
    slider.dispatchEvent(new Event("input"));
    expect(model.state.threshold).toBe(0.05);
    expect(Number(root().getAttribute("data-edges"))).toBeLessThan(drawn);
    expect(el.querySelector(".attnviz-flow-note").textContent).toMatch(/edges drawn of .* at or above 0\.05/);
    expect(unsuppressed(el)).toEqual([]);
  });

  test("clicking a token keeps only the paths through it; 'all paths' clears", () => {
    const model = fakeModel(state(1, 3, 6, { threshold: 0 }));
    render({ model, el });
    const all = Number(root().getAttribute("data-edges"));
    const canvas = el.querySelector(".attnviz-flow-canvas");
    canvas.getBoundingClientRect = () => ({ left: 0, top: 0, width: parseFloat(canvas.style.width), height: parseFloat(canvas.style.height) });
    const L = graphLayout(0, 3, 6, model.state.tokens, 800);
    canvas.dispatchEvent(new MouseEvent("click", { clientX: columnX(L, 1), clientY: nodeY(L, 3) }));
    expect(root().getAttribute("data-focus")).toBe("1:3");
    expect(Number(root().getAttribute("data-edges"))).toBeLessThan(all);
    el.querySelector(".attnviz-flow-clear").click();
    expect(root().getAttribute("data-focus")).toBe("");
    expect(Number(root().getAttribute("data-edges"))).toBe(all);
  });

  test("the head grid click asks the kernel for that head; the pair arrives and is drawn with both names", () => {
    const model = fakeModel(state(2, 3, 4));
    render({ model, el });
    expect(root().getAttribute("data-grid")).toBe("3x2");
    const grid = el.querySelector(".attnviz-flow-grid");
    grid.getBoundingClientRect = () => ({ left: 0, top: 0, width: parseFloat(grid.style.width), height: parseFloat(grid.style.height) });
    // cell (block 2, head 1): gridLayout(3, 2, {cell: 22, gap: 2, left: 30, top: 16})
    grid.dispatchEvent(new MouseEvent("click", { clientX: 30 + 24 + 5, clientY: 16 + 48 + 5 }));
    expect(model.state.selected_head).toEqual([2, 1]);
    expect(root().hasAttribute("data-pending")).toBe(true);
    push(model, { head_maps: encodeHalf(Array.from({ length: 2 * 16 }, (_, k) => (k % 5) / 5), [2, 4, 4]), revision: 1 });
    expect(root().getAttribute("data-pair")).toBe("2:1:2");
    expect([...el.querySelectorAll(".attnviz-flow-pair figcaption")].map((f) => f.textContent)).toEqual([
      "pre: block 2, head 1 (row = query, column = key)", "fine: block 2, head 1 (row = query, column = key)"]);
  });

  test("head-pair maps carry the tokens on both axes when rows are tall enough, and a hover readout", () => {
    const model = fakeModel(state(2, 3, 4, { selected_head: [1, 0] }));
    render({ model, el });
    rec.calls.fillText.length = 0;
    push(model, { head_maps: encodeHalf(Array.from({ length: 2 * 16 }, (_, k) => (k % 5) / 5), [2, 4, 4]), revision: 1 });
    expect(root().getAttribute("data-pair-labels")).toBe("true");  // 4 tokens in 120 px: 30 px rows
    for (const t of ["t0", "t1", "t3"]) expect(rec.calls.fillText.filter((x) => x === t).length).toBeGreaterThanOrEqual(4);
    const map = el.querySelectorAll(".attnviz-flow-head-map")[1];
    const margin = parseFloat(map.style.width) - 120;
    map.getBoundingClientRect = () => ({ left: 0, top: 0, width: parseFloat(map.style.width), height: parseFloat(map.style.height) });
    map.dispatchEvent(new MouseEvent("mousemove", { bubbles: true, clientX: margin + 30 * 3 + 2, clientY: margin + 30 + 2 }));
    expect(el.querySelector(".attnviz-readout").textContent).toMatch(/^fine, block 1 head 0: "t1" attends to "t3" with /);
  });

  test("the query box asks on Enter and says when no token matches", () => {
    const model = fakeModel(state(2, 3, 4));
    render({ model, el });
    const query = el.querySelector(".attnviz-flow-query");
    query.value = "elephant";
    query.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    expect(model.state.query).toBe("elephant");
    push(model, { query_tokens: [], revision: 1 });
    expect(el.querySelector(".attnviz-flow-query-note").textContent).toContain('no token of this input is "elephant"');
    query.value = "t1";
    query.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    push(model, { query_tokens: [1], revision: 2 });
    expect(el.querySelector(".attnviz-flow-query-note").textContent).toBe("");
  });

  test("the head-change grid: white for exactly zero, a colour legend up to the largest change", () => {
    const model = fakeModel(state(2, 3, 4));
    const styles = [];
    render({ model, el });
    rec.restore();
    // record the cell colours: head_change is k / 10, so cell (0, 0) is exactly 0
    const ctx = new Proxy({}, { get: (t, p) => (p in t ? t[p] : () => {}), set: (t, p, v) => { if (p === "fillStyle") styles.push(v); t[p] = v; return true; } });
    rec = { restore: vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockImplementation(() => ctx).mockRestore, calls: rec.calls };
    push(model, { threshold: 0.02 });
    expect(root().getAttribute("data-grid-max")).toBe("0.5");
    expect(styles).toContain("#ffffff");
    const reds = styles.filter((c) => c.startsWith("rgb"));
    expect(new Set(reds).size).toBeGreaterThan(3);
    expect(rec.calls.fillText).toBeDefined();
  });

  test("the graph shrinks to the output area at the projector's zoom; long tokens keep 24 characters", () => {
    el.getBoundingClientRect = () => ({ left: 0, top: 0, width: 848, height: 600 });
    const model = fakeModel(state(1, 3, 4, { scale: 1.6, tokens: ["understanding", "a", "b", "c"] }));
    rec.calls.fillText.length = 0;
    render({ model, el });
    expect(availableWidth(el, root())).toBe(Math.floor(848 / 1.6) - 4);
    const canvas = el.querySelector(".attnviz-flow-canvas");
    expect(parseFloat(canvas.style.width) * 1.6).toBeLessThanOrEqual(848);
    expect(rec.calls.fillText).toContain("understanding");
    expect(rec.calls.fillText).toContain('"underst…" attn');  // the source's attention bars, named by the source
  });

  test("the layer range and the difference mode are answered here; kernel controls are off in the static page", () => {
    const model = fakeModel(state(2, 4, 5, { _static: true }));
    render({ model, el });
    const lo = el.querySelector(".attnviz-flow-lo");
    lo.value = "2";
    lo.dispatchEvent(new Event("change"));
    expect(model.state.layers).toEqual([2, 4]);
    expect(root().getAttribute("data-layer-range")).toBe("2-4");
    const mode = el.querySelector(".attnviz-flow-mode");
    mode.value = "difference";
    mode.dispatchEvent(new Event("change"));
    expect(root().getAttribute("data-mode")).toBe("difference");
    expect(el.querySelector(".attnviz-flow-query").disabled).toBe(true);
    expect(el.querySelector(".attnviz-description").textContent).toContain("need a running kernel");
  });

  test("cleanup", () => {
    const tracker = trackListeners(vi);
    try {
      const model = fakeModel(state(1, 2, 4));
      const cleanup = render({ model, el });
      cleanup();
      expect(model.listenerCount()).toBe(0);
      expect(tracker.active).toBe(0);
    } finally {
      tracker.restore();
    }
  });
});
