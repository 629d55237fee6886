// @ts-check
/**
 * AttentionView: raw attention as a head view (queries on the left, keys on the right, each query's strongest lines
 * per head, one colour per head; hover a token to see all of its lines) and a model view (B x H thumbnails; click one
 * to open it in the head view). Both on canvas. The block shown arrives first as float16 and the others on demand
 * (blocks.js); a draw reads one block's bits and decodes only the weights it draws (head_lines.js). The model view
 * draws the kernel's pooled thumbnails. A search box finds a token and scrolls the head view to it. Everything here
 * is answered in the browser.
 *
 * Traits read: tokens, segments, attention_shape, attention {float16 [b, H, N, N]}, attention_blocks, thumbnails
 * {float16 [B, H, t, t]}, layer, heads, mode ("head" | "model"), threshold, coverage, scale, _static. Traits
 * written: layer, heads, mode. Messages: {event: "attention_blocks", layers} out, {event: "attention_block"} in.
 */
import { blockStore } from "./blocks.js";
import { halfBits, halfTable } from "./codec.js";
import { css, headColor, textColor } from "./colormap.js";
import { COLUMN_TITLES, blankNote, clearHead, drawHeadView, headNote, planSum, stepFocus } from "./head_draw.js";
import { DEFAULT_COVERAGE, LEVELS, LINE_BUDGET, headViewPlan, strongestWeight } from "./head_lines.js";
import { saveButton } from "./controls.js";
import { canvasPoint, checksum, context2d, control, h } from "./dom.js";
import { gridHit, headViewHit, headViewLayout } from "./layout.js";
import { copyHeads, update } from "./model.js";
import { AXIS_TITLES, GRID_MARGINS, decodeScore, drawModelGrid, modelGrid, modelReadout, poolThumbs, scoreOptions } from "./model_grid.js";
import { findTokens } from "./tokens.js";
import { clamp, createView } from "./view.js";

export { AXIS_TITLES, COLUMN_TITLES, GRID_MARGINS, LEVELS, LINE_BUDGET, findTokens, headViewPlan, strongestWeight };

/**
 * The head view's geometry (layout.js headViewLayout options): the top margin holds the column titles; long inputs
 * get rows of at least 11 px (legible labels) on a canvas up to 8,192 px tall, scrolled in its window.
 */
export const HEAD_LAYOUT = { width: 560, labelW: 110, top: 20, minRow: 11, maxCanvas: 11 * 1024 + 40 };

/**
 * @typedef {import("./head_lines.js").Focus} Focus
 * @typedef {import("./model.js").Model} Model
 * @typedef {number[] | null} Shape the attention's [B, H, N, N], or null before it arrives
 */

/** The block shown, within the blocks there are. @param {Model} model @param {Shape} s */
function layerOf(model, s) {
  return clamp(Number(model.get("layer") ?? 0), 0, s ? s[0] - 1 : 0);
}

/** A copy of the B x H head mask (all on when it does not fit the shape). @param {Model} model @param {Shape} s
 * @returns {boolean[][]} */
function headMask(model, s) {
  const mask = copyHeads(model.get("heads"));
  if (s && mask.length !== s[0]) return Array.from({ length: s[0] }, () => Array(s[1]).fill(true));
  return mask;
}

/** The block's name in the model: its index, or the original index when only some blocks were passed
 * (block_labels, from bertviz's include_layers). @param {Model} model @param {number} l */
function blockName(model, l) {
  const labels = /** @type {number[]} */ (model.get("block_labels") ?? []);
  return labels.length > l ? labels[l] : l;
}

/**
 * The view's elements, appended to `root`; the controls that only write a trait (mode, block, heads, colour-by)
 * and the PNG button are wired here.
 * @param {Document} doc
 * @param {import("./dom.js").Disposer} d
 * @param {Model} model
 * @param {HTMLElement} root
 * @param {() => Shape} shape
 */
function elements(doc, d, model, root, shape) {
  const modeHead = control(h(doc, "button", { class: "attnviz-mode-head", text: "head view", attrs: { type: "button" } }));
  const modeModel = control(h(doc, "button", { class: "attnviz-mode-model", text: "model view", attrs: { type: "button" } }));
  d.listen(modeHead, "click", () => update(model, { mode: "head" }));
  d.listen(modeModel, "click", () => update(model, { mode: "model" }));
  const slider = control(h(doc, "input", { class: "attnviz-layer-slider", attrs: { type: "range", min: 0, max: 0, step: 1, "aria-label": "block" } }));
  const sliderReadout = h(doc, "span", { class: "attnviz-layer-readout" });
  d.listen(slider, "input", () => update(model, { layer: Number(slider.value) }));
  const swatches = h(doc, "div", { class: "attnviz-head-swatches" });
  const allHeads = control(h(doc, "button", { class: "attnviz-head-all", text: "all heads", attrs: { type: "button" } }));
  d.listen(swatches, "click", (ev) => {
    const t = ev.target instanceof Element ? ev.target.closest(".attnviz-head-swatch") : null;
    const s = shape();
    if (!t || !s) return;
    const j = Number(t.getAttribute("data-head"));
    const layer = layerOf(model, s);
    const mask = headMask(model, s);
    if (/** @type {MouseEvent} */ (ev).shiftKey) mask[layer] = mask[layer].map((_, k) => k === j);
    else mask[layer][j] = !mask[layer][j];
    update(model, { heads: mask });
  });
  d.listen(allHeads, "click", () => {
    update(model, { heads: headMask(model, shape()).map((r) => r.map(() => true)) });
  });
  const search = control(h(doc, "input", { class: "attnviz-search", attrs: { type: "search", placeholder: "find a token", "aria-label": "find a token (Enter: next match)" } }));
  const found = h(doc, "span", { class: "attnviz-search-count" });
  const headCanvas = control(h(doc, "canvas", { class: "attnviz-head-canvas", attrs: { tabindex: 0, "aria-label": "head view: hover or use arrow keys to isolate a token" } }));
  const modelCanvas = control(h(doc, "canvas", { class: "attnviz-model-canvas", attrs: { tabindex: 0, "aria-label": "model view: click a thumbnail to open it" } }));
  const wrap = h(doc, "div", { class: "attnviz-canvas-wrap", children: [headCanvas, modelCanvas] });
  const readout = h(doc, "div", { class: "attnviz-readout", text: " " });
  const linesNote = h(doc, "div", { class: "attnviz-lines-note" });
  const colorBy = control(h(doc, "select", { class: "attnviz-color-heads", attrs: { "aria-label": "colour the heads by a head-type score" } }));
  colorBy.replaceChildren(...scoreOptions().map(([value, text]) => h(doc, "option", { text, attrs: { value } })));
  d.listen(colorBy, "change", () => update(model, { color_heads: colorBy.value }));
  const save = saveButton(doc, d, model, {
    draw: () => (model.get("mode") === "model" ? modelCanvas : headCanvas),
    name: () => `attnviz-attention-${model.get("mode")}-block${blockName(model, Number(model.get("layer")))}.png`,
  });

  root.append(
    h(doc, "div", { class: "attnviz-toolbar", children: [modeHead, modeModel,
      h(doc, "label", { class: "attnviz-field attnviz-layer", children: [h(doc, "span", { text: "block" }), slider, sliderReadout] }),
      swatches, allHeads, save] }),
    h(doc, "div", { class: "attnviz-toolbar", children: [search, found, colorBy] }),
    wrap,
    readout,
    linesNote,
  );
  return { modeHead, modeModel, slider, sliderReadout, swatches, allHeads, search, found, headCanvas, modelCanvas, wrap,
    readout, linesNote, colorBy };
}

/**
 * Bring the toolbar up to date (block slider, swatches, which canvas and controls show); returns the mode shown.
 * @param {Document} doc
 * @param {ReturnType<typeof elements>} ui
 * @param {Model} model
 * @param {Shape} s
 */
function syncToolbar(doc, ui, model, s) {
  const B = s ? s[0] : 1;
  const H = s ? s[1] : 0;
  const layer = layerOf(model, s);
  ui.slider.max = String(B - 1);
  ui.slider.value = String(layer);
  ui.sliderReadout.textContent = `${blockName(model, layer)} / ${blockName(model, B - 1)}`;
  syncSwatches(doc, ui.swatches, H, headMask(model, s)[layer]);
  const mode = model.get("mode") === "model" ? "model" : "head";
  ui.modeHead.setAttribute("aria-pressed", String(mode === "head"));
  ui.modeModel.setAttribute("aria-pressed", String(mode === "model"));
  ui.headCanvas.hidden = mode !== "head";
  ui.modelCanvas.hidden = mode !== "model";
  ui.swatches.hidden = ui.allHeads.hidden = ui.search.hidden = ui.found.hidden = mode !== "head";
  ui.colorBy.hidden = mode !== "model";
  ui.colorBy.value = model.get("color_heads") ?? "";
  return mode;
}

/**
 * One swatch per head in the head's colour (rebuilt when the number of heads changes), pressed for the kept heads.
 * @param {Document} doc
 * @param {HTMLElement} swatches
 * @param {number} H
 * @param {boolean[] | undefined} kept the block's head mask
 */
function syncSwatches(doc, swatches, H, kept) {
  if (swatches.childElementCount !== H) {
    swatches.replaceChildren(...Array.from({ length: H }, (_, j) => control(h(doc, "button", {
      class: "attnviz-head-swatch", text: String(j), title: `head ${j} (shift-click: only this head)`,
      attrs: { type: "button", "data-head": j },
      style: { "--attnviz-head": css(headColor(j)), "--attnviz-head-text": textColor(headColor(j)) },
    }))));
  }
  swatches.querySelectorAll(".attnviz-head-swatch").forEach((sw) => {
    const j = Number(sw.getAttribute("data-head"));
    const on = Boolean(kept?.[j]);
    sw.setAttribute("aria-pressed", String(on));
    sw.classList.toggle("attnviz-on", on);
  });
}

/** @param {import("./model.js").RenderArgs} args */
export function render({ model, el }) {
  const view = createView(model, el, "attention");
  const { doc, d, root, kernel } = view;
  /** @type {Focus} */
  let focus = null;
  let shownMode = "";
  const store = blockStore(model, d, (layer) => {
    if (layer === currentLayer()) draw();
  });
  /** @type {{raw: unknown, cell: number, thumbs: Float32Array[], t: number, sum: string} | null} */
  let thumbs = null;
  const shape = () => store.shape();
  const currentLayer = () => layerOf(model, shape());
  const heads = () => headMask(model, shape());
  const tokens = () => /** @type {string[]} */ ((model.get("tokens") ?? []).map(String));
  const name = (/** @type {number} */ l) => blockName(model, l);
  const layout = () => { const s = shape(); return headViewLayout(s ? s[2] : 0, HEAD_LAYOUT); };
  const ui = elements(doc, d, model, root, shape);
  const { search, found, headCanvas, modelCanvas, wrap, readout, linesNote } = ui;

  function drawHead() {
    const s = shape();
    if (!s) return { checksum: "empty", mode: "head" };
    const [, H, N] = s;
    const layer = currentLayer();
    const bits = store.get(layer);
    store.want(layer, kernel);
    const L = layout();
    const ctx = context2d(headCanvas, L.width, L.height);
    if (!bits) {
      if (ctx) clearHead(ctx, L);
      linesNote.textContent = `loading block ${name(layer)} from the kernel…`;
      root.setAttribute("data-loading", String(layer));
      return { mode: "head", layer, "num-tokens": N, lines: 0, checksum: `loading-${layer}` };
    }
    root.removeAttribute("data-loading");
    const kept = heads()[layer] ?? Array(H).fill(true);
    const threshold = Number(model.get("threshold") ?? 0.02);
    const coverage = Number(model.get("coverage") ?? DEFAULT_COVERAGE);
    const one = [1, H, N, N];
    const scale = store.scale;
    const plan = headViewPlan(bits, one, 0, kept, threshold, focus, scale, LINE_BUDGET, coverage);
    if (ctx) drawHeadView(ctx, L, { heads: plan.heads, tokens: tokens(), focus, lineWidth: L.width / Math.max(1, headCanvas.width) });
    const headsOn = kept.filter(Boolean).length;
    if (!plan.count && !focus) {
      linesNote.textContent = blankNote(kept, threshold, name(layer), strongestWeight(bits, one, 0, kept) * scale);
      root.setAttribute("data-blank-reason", kept.some(Boolean) ? "threshold" : "heads");
      return { mode: "head", layer, "num-tokens": N, lines: 0, "lines-hidden": 0, "lines-uncovered": plan.uncovered,
        "heads-on": headsOn, "blocks-loaded": store.loaded, "rows-px": L.rowH, focus: "", checksum: checksum([layer, kept.map(Number).join(""), threshold, coverage, "blank"]) };
    }
    root.removeAttribute("data-blank-reason");
    linesNote.textContent = headNote(plan, focus, threshold, coverage);
    const sum = [layer, kept.map(Number).join(""), threshold, coverage, focus ? `${focus.side}${focus.index}` : "-", ...planSum(plan.heads, N)];
    return {
      mode: "head", layer, "num-tokens": N, lines: plan.count, "lines-hidden": plan.hidden, "lines-uncovered": plan.uncovered,
      "heads-on": headsOn, "blocks-loaded": store.loaded, "rows-px": L.rowH,
      focus: focus ? `${focus.side}:${focus.index}` : "", checksum: checksum(sum),
    };
  }

  function grid() {
    const [B, H] = shape() ?? [0, 0];
    return modelGrid(B, H);
  }

  /** Thumbnails: the kernel's pooled [B, H, t, t] when sent, else pooled here from the blocks present. */
  function ensureThumbs() {
    const s = shape();
    if (!s) return null;
    const G = grid();
    const raw = model.get("thumbnails");
    const key = raw && raw.shape && raw.shape.length === 4 ? raw : model.get("attention");
    if (thumbs && thumbs.raw === key && thumbs.cell === G.cell) return thumbs;
    const [B, H, N] = s;
    const pooled = key === raw ? halfBits(raw) : null;
    const p = poolThumbs({ B, H, N, cell: G.cell, table: halfTable(), pooled, block: (l) => store.get(l) });
    thumbs = { raw: key, cell: G.cell, thumbs: p.thumbs, t: p.t, sum: checksum(p.sums) };
    return thumbs;
  }

  /** The head-type score the model view is coloured by, or null. */
  function headScore() {
    return decodeScore(model.get("color_heads") ?? "", model.get("head_scores") ?? {});
  }

  function drawModel() {
    const causal = Boolean(model.get("causal"));
    const s = shape();
    const th = ensureThumbs();
    if (!s || !th) return { checksum: "empty", mode: "model" };
    const G = grid();
    const layer = currentLayer();
    const mask = heads();
    const score = headScore();
    const ctx = context2d(modelCanvas, G.width, G.height);
    if (ctx) {
      const tile = doc.createElement("canvas");
      tile.width = th.t;
      tile.height = th.t;
      const blockNames = Array.from({ length: s[0] }, (_, l) => name(l));
      drawModelGrid(ctx, G, { thumbs: th.thumbs, t: th.t, layer, mask, blockNames, causal, score }, { canvas: tile, ctx: tile.getContext("2d") });
    }
    linesNote.textContent = causal ? "causal attention: the grey upper triangle of each map is the future, which a "
      + "decoder's tokens cannot attend to (not a zero weight)" : "";
    root.removeAttribute("data-loading");
    const on = mask.flat().filter(Boolean).length;
    // as before the split: `causal` is a boolean, which checksum hashes as an empty item (only its separator)
    const sum = /** @type {(string | number)[]} */ ([th.sum, layer, mask.flat().map(Number).join(""), score ? score.name : "", causal]);
    return { mode: "model", layer, "num-tokens": s[2], "heads-on": on, "color-heads": score ? score.name : "",
      causal: String(causal), checksum: checksum(sum) };
  }

  function draw() {
    const mode = syncToolbar(doc, ui, model, shape());
    if (mode !== shownMode) {  // the readout and the focus belong to the other canvas
      shownMode = mode;
      focus = null;
      readout.textContent = " ";
    }
    view.draw(() => (model.get("mode") === "model" ? drawModel() : drawHead()));
  }

  /** @param {MouseEvent} ev */
  function local(ev, canvas = headCanvas) {
    return canvasPoint(ev, canvas);
  }

  /** @param {Focus} next */
  function setFocus(next) {
    focus = next;
    readout.textContent = focus ? `${focus.side === "left" ? "from" : "to"} "${tokens()[focus.index] ?? ""}" (token ${focus.index})` : " ";
    draw();
  }

  d.listen(headCanvas, "mousemove", (ev) => {
    const p = local(ev);
    const hit = headViewHit(layout(), p.x, p.y);
    const next = hit ? { side: /** @type {"left" | "right"} */ (hit.side), index: hit.index } : null;
    if (JSON.stringify(next) === JSON.stringify(focus)) return;
    setFocus(next);
  });
  d.listen(headCanvas, "mouseleave", () => {
    if (focus) setFocus(null);
  });
  d.listen(headCanvas, "keydown", (ev) => {
    const s = shape();
    if (!s) return;
    const e = /** @type {KeyboardEvent} */ (ev);
    const next = stepFocus(e.key, focus, s[2]);
    if (next === undefined) return;
    e.preventDefault();
    setFocus(next);
    if (next) scrollToRow(next.index);
  });

  /** @param {number} i */
  function scrollToRow(i) {
    const L = layout();
    const zoom = Number.parseFloat(root.style.zoom) || 1;
    const y = (L.top + i * L.rowH) * zoom;
    if (y < wrap.scrollTop || y > wrap.scrollTop + wrap.clientHeight - L.rowH * zoom) wrap.scrollTop = Math.max(0, y - wrap.clientHeight / 3);
  }

  // Search: type a word, jump to its first match (Enter: the next one); the match becomes the focused query.
  let matchAt = -1;
  function runSearch(advance = false) {
    const hits = findTokens(tokens(), search.value);
    if (!search.value.trim()) {
      found.textContent = "";
      matchAt = -1;
      root.removeAttribute("data-search-hits");
      return;
    }
    root.setAttribute("data-search-hits", String(hits.length));
    if (!hits.length) {
      found.textContent = "no match";
      return;
    }
    matchAt = advance ? (matchAt + 1) % hits.length : 0;
    found.textContent = `${matchAt + 1} of ${hits.length} (Enter: next)`;
    if (model.get("mode") === "model") update(model, { mode: "head" });
    setFocus({ side: "left", index: hits[matchAt] });
    scrollToRow(hits[matchAt]);
  }
  d.listen(search, "input", () => runSearch(false));
  d.listen(search, "keydown", (ev) => {
    if (/** @type {KeyboardEvent} */ (ev).key === "Enter") {
      ev.preventDefault();
      runSearch(true);
    }
  });

  d.listen(modelCanvas, "click", (ev) => {
    const p = local(ev, modelCanvas);
    const hit = gridHit(grid(), p.x, p.y);
    if (!hit) return;
    const mask = heads();
    mask[hit.row] = mask[hit.row].map((_, k) => k === hit.col);
    update(model, { layer: hit.row, heads: mask, mode: "head" });
  });
  d.listen(modelCanvas, "mousemove", (ev) => {
    const p = local(ev, modelCanvas);
    const hit = gridHit(grid(), p.x, p.y);
    readout.textContent = modelReadout(hit, headScore(), shape()?.[1] ?? 0, hit ? name(hit.row) : "");
  });

  draw();
  for (const trait of ["attention", "attention_shape", "thumbnails", "tokens", "layer", "heads", "mode", "threshold", "coverage", "scale", "color_heads", "head_scores", "block_labels"]) d.on(model, `change:${trait}`, draw);
  return () => d.dispose();
}

export default { render };
