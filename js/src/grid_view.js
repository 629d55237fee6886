// @ts-check
/**
 * GridView: a labelled grid of numbers computed in the kernel (the logit lens, direct logit attribution,
 * activation patching). Hover and the block slider are answered here; pickers and clicks go to the kernel, which
 * answers with new values and a new `revision`.
 *
 * Traits read: kind, title, note, summary, row_title, col_title, row_labels, col_labels, values {float32 [R, C]},
 * value_label, signed, fixed_range, cell_text, hover_text, marked_col, marked_cells, layer, pickers, error,
 * revision. Traits written: choices, selected, layer.
 */
import { fmt } from "./colormap.js";
import { layerSlider, legend, picker, statusLine } from "./controls.js";
import { canvasPoint, checksum, context2d, h } from "./dom.js";
import { cellAt, drawGrid, gridPlan, gridRange } from "./grid_draw.js";
import { update } from "./model.js";
import { createView } from "./view.js";

/**
 * The hover readout of a cell: "block 3 · 5 ' the': 0.412 · top: ' cat' 0.41, ...".
 * @param {{rowTitle: string, colTitle: string, rowLabels: string[], colLabels: string[], valueLabel: string,
 *   values: ArrayLike<number>, cols: number, hoverText?: string[][]}} g
 * @param {number} r
 * @param {number} c
 */
export function cellReadout(g, r, c) {
  const v = g.values[r * g.cols + c];
  const extra = g.hoverText?.[r]?.[c];
  return `${g.rowTitle} ${g.rowLabels[r] ?? r} · ${g.colTitle} ${g.colLabels[c] ?? c} · ${g.valueLabel}: ${fmt(v)}${extra ? ` · top: ${extra}` : ""}`;
}

/** @param {import("./model.js").RenderArgs} args */
export function render({ model, el }) {
  const view = createView(model, el, "grid");
  const { doc, d, root, kernel, toKernel } = view;
  const title = h(doc, "div", { class: "attnviz-title" });
  const toolbar = h(doc, "div", { class: "attnviz-toolbar" });
  const slider = layerSlider(doc, d, { label: "through block", onInput: (l) => update(model, { layer: l }) });
  const leg = legend(doc);
  const axes = h(doc, "div", { class: "attnviz-caption attnviz-grid-axes" });
  const scroller = h(doc, "div", { class: "attnviz-grid-scroll" });
  const canvas = /** @type {HTMLCanvasElement} */ (h(doc, "canvas", { class: "attnviz-grid-canvas" }));
  scroller.appendChild(canvas);
  const readout = h(doc, "div", { class: "attnviz-readout", text: " " });
  const summary = h(doc, "div", { class: "attnviz-summary" });
  const note = h(doc, "div", { class: "attnviz-description" });
  const status = statusLine(doc);
  root.append(title, toolbar, leg.el, axes, scroller, readout, summary, note, status.el);
  /** @type {Map<string, ReturnType<typeof picker>>} */
  const pickers = new Map();
  /** @type {{row: number, col: number} | null} */
  let hover = null;
  let scrolled = false;
  let scrollTries = 0;
  /**
   * A long input opens at the explained position, as TextView's window does. The first draw may come before the
   * output is laid out (no width yet): try again on the next frames, for about two seconds.
   * @param {number} x the explained column's left edge on the canvas
   */
  function scrollToColumn(x) {
    if (scrolled) return;
    if (scroller.clientWidth > 0) {
      scroller.scrollLeft = Math.max(0, x - scroller.clientWidth / 2);
      scrolled = true;
      root.setAttribute("data-scroll-left", String(Math.round(scroller.scrollLeft)));
      return;
    }
    if (scrollTries++ < 120 && typeof requestAnimationFrame === "function") requestAnimationFrame(() => scrollToColumn(x));
  }

  function syncPickers() {
    const specs = /** @type {{name: string, label: string, value: string, options: {value: string, text: string}[]}[]} */ (model.get("pickers") ?? []);
    const choices = model.get("choices") ?? {};
    for (const spec of specs) {
      let p = pickers.get(spec.name);
      if (!p) {
        p = picker(doc, d, { label: spec.label, cls: `attnviz-pick-${spec.name}`, onChange: (value) => toKernel({ choices: { ...(model.get("choices") ?? {}), [spec.name]: value } }) });
        p.select.disabled = !kernel;
        pickers.set(spec.name, p);
        toolbar.appendChild(p.el);
      }
      p.update(spec.options, String(choices[spec.name] ?? spec.value));
    }
    const layer = Number(model.get("layer") ?? -1);
    if (layer >= 0 && !slider.el.isConnected) toolbar.appendChild(slider.el);
    if (layer < 0) slider.el.remove();
  }

  function grid() {
    const values = view.floats("values");
    const shape = values ? values.shape : [0, 0];
    return {
      values: values ? values.data : new Float32Array(0), rows: shape[0] ?? 0, cols: shape[1] ?? 0,
      rowTitle: String(model.get("row_title") ?? ""), colTitle: String(model.get("col_title") ?? ""),
      rowLabels: /** @type {string[]} */ (model.get("row_labels") ?? []), colLabels: /** @type {string[]} */ (model.get("col_labels") ?? []),
      valueLabel: String(model.get("value_label") ?? "value"), hoverText: /** @type {string[][]} */ (model.get("hover_text") ?? []),
    };
  }

  function draw() {
    view.draw(() => {
      syncPickers();
      const g = grid();
      title.textContent = String(model.get("title") ?? "");
      axes.textContent = `rows: ${g.rowTitle} · columns: ${g.colTitle} · colour: ${g.valueLabel}`;
      summary.textContent = String(model.get("summary") ?? "");
      note.textContent = String(model.get("note") ?? "");
      status.update(String(model.get("error") ?? ""));
      const signed = Boolean(model.get("signed"));
      const range = gridRange(g.values, signed, model.get("fixed_range") ?? []);
      const cmap = signed ? "rdbu" : "blues";
      leg.update(cmap, range);
      const layer = Number(model.get("layer") ?? -1);
      slider.update(Math.max(0, layer), g.rows);
      const cellText = /** @type {string[][]} */ (model.get("cell_text") ?? []);
      const P = gridPlan(g.rows, g.cols, { cellText: cellText.length > 0 });
      const ctx = context2d(canvas, P.width, P.height);
      const markedCol = Number(model.get("marked_col") ?? -1);
      const markedCells = /** @type {number[][]} */ (model.get("marked_cells") ?? []);
      if (ctx) {
        drawGrid(ctx, P, { values: g.values, range, cmap, rowLabels: g.rowLabels, colLabels: g.colLabels, cellText,
          markedCol, markedCells, fadedFrom: layer >= 0 ? layer + 1 : undefined, hover });
      }
      if (markedCol >= 0) scrollToColumn(P.left + markedCol * P.cellW);
      if (hover && (hover.row >= g.rows || hover.col >= g.cols)) hover = null;
      readout.textContent = hover ? cellReadout({ ...g, cols: g.cols }, hover.row, hover.col) : " ";
      const quantised = Array.from(g.values, (v) => Math.round(v * 1e4));
      return { kind: String(model.get("kind") ?? ""), layer, rows: g.rows, cols: g.cols,
        selected: (model.get("selected") ?? []).join(","), checksum: checksum([...quantised, layer, markedCol, ...markedCells.flat()]) };
    });
  }

  d.listen(canvas, "mousemove", (ev) => {
    const g = grid();
    const at = cellAt(gridPlan(g.rows, g.cols, { cellText: (model.get("cell_text") ?? []).length > 0 }), canvasPoint(/** @type {MouseEvent} */ (ev), canvas).x, canvasPoint(/** @type {MouseEvent} */ (ev), canvas).y);
    if ((at?.row ?? -1) === (hover?.row ?? -1) && (at?.col ?? -1) === (hover?.col ?? -1)) return;
    hover = at;
    draw();
  });
  d.listen(canvas, "mouseleave", () => { hover = null; draw(); });
  d.listen(canvas, "click", (ev) => {
    if (!kernel) return;
    const g = grid();
    const p = canvasPoint(/** @type {MouseEvent} */ (ev), canvas);
    const at = cellAt(gridPlan(g.rows, g.cols, { cellText: (model.get("cell_text") ?? []).length > 0 }), p.x, p.y);
    if (at) toKernel({ selected: [at.row, at.col] });
  });
  for (const name of ["values", "layer", "cell_text", "marked_col", "marked_cells", "title", "note", "summary", "error", "pickers", "choices", "revision"]) {
    d.on(model, `change:${name}`, draw);
  }
  draw();
  return () => d.dispose();
}

export default { render };
