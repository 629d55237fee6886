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
import { decodeFloat, halfBits, halfTable } from "./codec.js";
import { color, css, headColor, sig3, textColor } from "./colormap.js";
import { DEFAULT_COVERAGE, LEVELS, LINE_BUDGET, headViewPlan, strongestWeight, weightLabel } from "./head_lines.js";
import { canvasPoint, checksum, context2d, control, download, h } from "./dom.js";
import { cellOrigin, gridHit, gridLayout, headViewHit, headViewLayout, pool, rowY } from "./layout.js";
import { copyHeads, sendPng, update } from "./model.js";
import { findTokens } from "./tokens.js";
import { clamp, createView } from "./view.js";

export { LEVELS, LINE_BUDGET, findTokens, headViewPlan, strongestWeight };

/**
 * The head view's geometry (layout.js headViewLayout options): the top margin holds the column titles; long inputs
 * get rows of at least 11 px (legible labels) on a canvas up to 8,192 px tall, scrolled in its window.
 */
export const HEAD_LAYOUT = { width: 560, labelW: 110, top: 20, minRow: 11, maxCanvas: 11 * 1024 + 40 };
/** The model view's margins (layout.js gridLayout options): room for the axis titles and the numbers. */
export const GRID_MARGINS = { left: 48, top: 34 };

/** What the two token columns of the head view are: each line goes from a query token to a key token. */
export const COLUMN_TITLES = ["attends from (query)", "to (key)"];
/** The model view's axes: one row per block, one column per head. */
export const AXIS_TITLES = ["head →", "block ↓"];

/** @typedef {import("./head_lines.js").Focus} Focus */

/**
 * A short label for a canvas (canvas text is not HTML, but long tokens would overlap the lines).
 * @param {string} t
 */
function short(t) {
  return t.length > 14 ? `${t.slice(0, 13)}…` : t;
}


/** The grey of a decoder's empty upper triangle in the thumbnails (no head colour comes near it). */
const EMPTY_GREY = 222;
/** @param {import("./model.js").RenderArgs} args */
export function render({ model, el }) {
  const view = createView(model, el, "attention");
  const { doc, d, root, kernel } = view;

  const modeHead = control(h(doc, "button", { class: "attnviz-mode-head", text: "head view", attrs: { type: "button" } }));
  const modeModel = control(h(doc, "button", { class: "attnviz-mode-model", text: "model view", attrs: { type: "button" } }));
  d.listen(modeHead, "click", () => update(model, { mode: "head" }));
  d.listen(modeModel, "click", () => update(model, { mode: "model" }));
  const slider = control(h(doc, "input", { class: "attnviz-layer-slider", attrs: { type: "range", min: 0, max: 0, step: 1, "aria-label": "block" } }));
  const sliderReadout = h(doc, "span", { class: "attnviz-layer-readout" });
  d.listen(slider, "input", () => update(model, { layer: Number(slider.value) }));
  const swatches = h(doc, "div", { class: "attnviz-head-swatches" });
  const allHeads = control(h(doc, "button", { class: "attnviz-head-all", text: "all heads", attrs: { type: "button" } }));
  const search = control(h(doc, "input", { class: "attnviz-search", attrs: { type: "search", placeholder: "find a token", "aria-label": "find a token (Enter: next match)" } }));
  const found = h(doc, "span", { class: "attnviz-search-count" });
  const headCanvas = control(h(doc, "canvas", { class: "attnviz-head-canvas", attrs: { tabindex: 0, "aria-label": "head view: hover or use arrow keys to isolate a token" } }));
  const modelCanvas = control(h(doc, "canvas", { class: "attnviz-model-canvas", attrs: { tabindex: 0, "aria-label": "model view: click a thumbnail to open it" } }));
  const wrap = h(doc, "div", { class: "attnviz-canvas-wrap", children: [headCanvas, modelCanvas] });
  const readout = h(doc, "div", { class: "attnviz-readout", text: " " });
  const linesNote = h(doc, "div", { class: "attnviz-lines-note" });
  const colorBy = control(h(doc, "select", { class: "attnviz-color-heads", attrs: { "aria-label": "colour the heads by a head-type score" } }));
  colorBy.replaceChildren(...[["", "heads: plain"], ["previous_token", "previous-token score"], ["duplicate_token", "duplicate-token score"],
    ["induction", "induction score"]].map(([value, text]) => h(doc, "option", { text, attrs: { value } })));
  d.listen(colorBy, "change", () => update(model, { color_heads: colorBy.value }));
  const save = control(h(doc, "button", { class: "attnviz-save", text: "PNG", title: "save what is shown as PNG", attrs: { type: "button" } }));

  root.append(
    h(doc, "div", { class: "attnviz-toolbar", children: [modeHead, modeModel,
      h(doc, "label", { class: "attnviz-field attnviz-layer", children: [h(doc, "span", { text: "block" }), slider, sliderReadout] }),
      swatches, allHeads, save] }),
    h(doc, "div", { class: "attnviz-toolbar", children: [search, found, colorBy] }),
    wrap,
    readout,
    linesNote,
  );

  /** @type {Focus} */
  let focus = null;
  let shownMode = "";
  const store = blockStore(model, d, (layer) => {
    if (layer === currentLayer()) draw();
  });
  /** @type {{raw: unknown, cell: number, thumbs: Float32Array[], t: number, sum: string} | null} */
  let thumbs = null;

  /** [B, H, N, N] or null. */
  function shape() {
    return store.shape();
  }

  function currentLayer() {
    const s = shape();
    return clamp(Number(model.get("layer") ?? 0), 0, s ? s[0] - 1 : 0);
  }

  /** @returns {boolean[][]} */
  function heads() {
    const s = shape();
    const mask = copyHeads(model.get("heads"));
    if (s && mask.length !== s[0]) return Array.from({ length: s[0] }, () => Array(s[1]).fill(true));
    return mask;
  }

  function tokens() {
    return /** @type {string[]} */ ((model.get("tokens") ?? []).map(String));
  }

  /** The block's name in the model: its index, or the original index when only some blocks were passed
   * (block_labels, from bertviz's include_layers). @param {number} l */
  function blockName(l) {
    const labels = /** @type {number[]} */ (model.get("block_labels") ?? []);
    return labels.length > l ? labels[l] : l;
  }

  function layout() {
    const s = shape();
    return headViewLayout(s ? s[2] : 0, HEAD_LAYOUT);
  }

  function syncToolbar() {
    const s = shape();
    const B = s ? s[0] : 1;
    const H = s ? s[1] : 0;
    const layer = currentLayer();
    slider.max = String(B - 1);
    slider.value = String(layer);
    sliderReadout.textContent = `${blockName(layer)} / ${blockName(B - 1)}`;
    const mask = heads();
    if (swatches.childElementCount !== H) {
      swatches.replaceChildren(...Array.from({ length: H }, (_, j) => control(h(doc, "button", {
        class: "attnviz-head-swatch", text: String(j), title: `head ${j} (shift-click: only this head)`,
        attrs: { type: "button", "data-head": j },
        style: { "--attnviz-head": css(headColor(j)), "--attnviz-head-text": textColor(headColor(j)) },
      }))));
    }
    swatches.querySelectorAll(".attnviz-head-swatch").forEach((sw) => {
      const j = Number(sw.getAttribute("data-head"));
      const on = Boolean(mask[layer]?.[j]);
      sw.setAttribute("aria-pressed", String(on));
      sw.classList.toggle("attnviz-on", on);
    });
    const mode = model.get("mode") === "model" ? "model" : "head";
    if (mode !== shownMode) {  // the readout and the focus belong to the other canvas
      shownMode = mode;
      focus = null;
      readout.textContent = " ";
    }
    modeHead.setAttribute("aria-pressed", String(mode === "head"));
    modeModel.setAttribute("aria-pressed", String(mode === "model"));
    headCanvas.hidden = mode !== "head";
    modelCanvas.hidden = mode !== "model";
    swatches.hidden = allHeads.hidden = search.hidden = found.hidden = mode !== "head";
    colorBy.hidden = mode !== "model";
    colorBy.value = model.get("color_heads") ?? "";
  }

  d.listen(swatches, "click", (ev) => {
    const t = ev.target instanceof Element ? ev.target.closest(".attnviz-head-swatch") : null;
    const s = shape();
    if (!t || !s) return;
    const j = Number(t.getAttribute("data-head"));
    const layer = currentLayer();
    const mask = heads();
    if (/** @type {MouseEvent} */ (ev).shiftKey) mask[layer] = mask[layer].map((_, k) => k === j);
    else mask[layer][j] = !mask[layer][j];
    update(model, { heads: mask });
  });
  d.listen(allHeads, "click", () => {
    update(model, { heads: heads().map((r) => r.map(() => true)) });
  });

  function drawHead() {
    const s = shape();
    if (!s) return { checksum: "empty", mode: "head" };
    const [B, H, N] = s;
    const layer = currentLayer();
    const bits = store.get(layer);
    store.want(layer, kernel);
    const L = layout();
    const ctx = context2d(headCanvas, L.width, L.height);
    if (!bits) {
      if (ctx) {
        ctx.fillStyle = "#fff";
        ctx.fillRect(0, 0, L.width, L.height);
      }
      linesNote.textContent = `loading block ${blockName(layer)} from the kernel…`;
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
    const toks = tokens();
    if (ctx) {
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, L.width, L.height);
      // One device pixel: Skia's fast path for thin lines (1.5 px lines rasterise ~10x slower in software).
      ctx.lineWidth = L.width / Math.max(1, headCanvas.width);
      for (const { head, levels } of plan.heads) {
        const rgb = headColor(head);
        levels.forEach((pairs, k) => {
          if (!pairs.length) return;
          ctx.strokeStyle = css(rgb, (k + 1) / LEVELS);
          ctx.beginPath();
          for (let p = 0; p < pairs.length; p += 2) {
            ctx.moveTo(L.xLeft, rowY(L, pairs[p]));
            ctx.lineTo(L.xRight, rowY(L, pairs[p + 1]));
          }
          ctx.stroke();
        });
      }
      if (focus) {
        ctx.fillStyle = "rgba(255, 214, 0, 0.5)";
        const x = focus.side === "left" ? 0 : L.xRight;
        ctx.fillRect(x, L.top + focus.index * L.rowH, L.labelW + 6, L.rowH);
      }
      if (L.rowH >= 7) {
        ctx.fillStyle = "#222";
        ctx.font = `${Math.min(12, L.rowH - 1)}px sans-serif`;
        ctx.textBaseline = "middle";
        for (let i = 0; i < N; i++) {
          const y = rowY(L, i);
          ctx.textAlign = "right";
          ctx.fillText(short(toks[i] ?? ""), L.xLeft - 4, y);
          ctx.textAlign = "left";
          ctx.fillText(short(toks[i] ?? ""), L.xRight + 4, y);
        }
      } else {
        ctx.fillStyle = "#ddd";
        ctx.fillRect(L.xLeft - 3, L.top, 2, N * L.rowH);
        ctx.fillRect(L.xRight + 1, L.top, 2, N * L.rowH);
      }
      ctx.fillStyle = "#555";
      ctx.font = "bold 11px sans-serif";
      ctx.textBaseline = "middle";
      ctx.textAlign = "left";  // the query title is wider than the label column: start it at the left edge
      ctx.fillText(COLUMN_TITLES[0], 2, L.top / 2);
      ctx.fillText(COLUMN_TITLES[1], L.xRight + 4, L.top / 2);
    }
    const headsOn = kept.filter(Boolean).length;
    if (!plan.count && !focus) {
      const strongest = strongestWeight(bits, one, 0, kept) * scale;
      linesNote.textContent = kept.some(Boolean)
        ? `no line drawn: no weight of the ${headsOn} heads shown reaches the threshold ${threshold} `
          + `in block ${blockName(layer)} (the largest is ${weightLabel(strongest)}). Lower it: AttentionView(e, threshold=...)`
        : "no line drawn: every head of this block is switched off (click a head swatch to show it)";
      root.setAttribute("data-blank-reason", kept.some(Boolean) ? "threshold" : "heads");
      return { mode: "head", layer, "num-tokens": N, lines: 0, "lines-hidden": 0, "lines-uncovered": plan.uncovered,
        "heads-on": headsOn, "blocks-loaded": store.loaded, "rows-px": L.rowH, focus: "", checksum: checksum([layer, kept.map(Number).join(""), threshold, coverage, "blank"]) };
    }
    root.removeAttribute("data-blank-reason");
    /** @type {string[]} */
    const notes = [];
    if (plan.uncovered && !focus) {
      notes.push(`each query's strongest lines holding ${Math.round(coverage * 100)}% of its attention per head `
        + `(${plan.uncovered.toLocaleString("en")} weaker lines above the threshold ${threshold} not drawn: `
        + "AttentionView(e, coverage=1) draws them)");
    }
    if (plan.hidden) {
      notes.push(`the strongest ${plan.count.toLocaleString("en")} of ${(plan.count + plan.hidden).toLocaleString("en")} lines `
        + "(line budget)");
    }
    linesNote.textContent = notes.length ? `showing ${notes.join("; ")}; hover a token to see all of its lines` : "";
    /** @type {(string | number)[]} */
    const sum = [layer, kept.map(Number).join(""), threshold, coverage, focus ? `${focus.side}${focus.index}` : "-"];
    for (const { head, levels } of plan.heads) {
      levels.forEach((pairs, k) => {
        let c = 0;
        for (let p = 0; p < pairs.length; p += 2) c = (c * 31 + pairs[p] * N + pairs[p + 1]) % 2147483647;
        sum.push(head, k, pairs.length, c);
      });
    }
    return {
      mode: "head", layer, "num-tokens": N, lines: plan.count, "lines-hidden": plan.hidden, "lines-uncovered": plan.uncovered,
      "heads-on": headsOn, "blocks-loaded": store.loaded, "rows-px": L.rowH,
      focus: focus ? `${focus.side}:${focus.index}` : "", checksum: checksum(sum),
    };
  }

  function modelGrid() {
    const s = shape();
    const [B, H] = s ?? [0, 0];
    return gridLayout(B, H, { cell: H > 12 ? 44 : 56, ...GRID_MARGINS });
  }

  /** Thumbnails: the kernel's pooled [B, H, t, t] when sent, else pooled here from the blocks present. */
  function ensureThumbs() {
    const s = shape();
    if (!s) return null;
    const G = modelGrid();
    const raw = model.get("thumbnails");
    const key = raw && raw.shape && raw.shape.length === 4 ? raw : model.get("attention");
    if (thumbs && thumbs.raw === key && thumbs.cell === G.cell) return thumbs;
    const [B, H, N] = s;
    const table = halfTable();
    /** @type {Float32Array[]} */
    const list = [];
    /** @type {number[]} */
    const sums = [];
    let t = Math.min(N, G.cell);
    const pooledBits = key === raw ? halfBits(raw) : null;
    if (pooledBits) t = pooledBits.shape[2];
    for (let l = 0; l < B; l++) {
      const bits = pooledBits ? null : store.get(l);
      for (let hd = 0; hd < H; hd++) {
        let p;
        if (pooledBits) {
          p = new Float32Array(t * t);
          const o = (l * H + hd) * t * t;
          for (let k = 0; k < t * t; k++) p[k] = table[pooledBits.bits[o + k]] * pooledBits.scale;
        } else p = bits ? pool(bits, hd * N * N, N, t, table) : new Float32Array(t * t);
        let mx = 0;
        for (let k = 0; k < p.length; k++) mx = Math.max(mx, p[k]);
        let c = 0;
        for (let k = 0; k < p.length; k++) {
          p[k] = mx > 0 ? Math.sqrt(p[k] / mx) : 0;  // sqrt: faint structure stays visible next to a strong diagonal
          c += Math.round(p[k] * 255);
        }
        list.push(p);
        sums.push(c);
      }
    }
    thumbs = { raw: key, cell: G.cell, thumbs: list, t, sum: checksum(sums) };
    return thumbs;
  }

  /** The head-type score the model view is coloured by: {name, values [B * H], max} or null. */
  function headScore() {
    const name = model.get("color_heads") ?? "";
    const raw = (model.get("head_scores") ?? {})[name];
    if (!name || !raw || !raw.shape || raw.shape.length !== 2) return null;
    const values = decodeFloat(raw).data;
    let max = 0;
    for (let k = 0; k < values.length; k++) max = Math.max(max, values[k]);
    return { name, values, max };
  }

  function drawModel() {
    const causal = Boolean(model.get("causal"));
    const s = shape();
    const th = ensureThumbs();
    if (!s || !th) return { checksum: "empty", mode: "model" };
    const [B, H] = s;
    const G = modelGrid();
    const layer = currentLayer();
    const mask = heads();
    const score = headScore();
    const ctx = context2d(modelCanvas, G.width, G.height);
    if (ctx) {
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, G.width, G.height);
      ctx.fillStyle = "#333";
      ctx.font = "11px sans-serif";
      ctx.textBaseline = "middle";
      ctx.textAlign = "center";
      for (let hd = 0; hd < H; hd++) ctx.fillText(String(hd), cellOrigin(G, 0, hd).x + G.cell / 2, G.top - 9);
      ctx.textAlign = "right";
      for (let l = 0; l < B; l++) ctx.fillText(String(blockName(l)), G.left - 6, cellOrigin(G, l, 0).y + G.cell / 2);
      ctx.font = "bold 11px sans-serif";
      ctx.textAlign = "left";
      ctx.fillText(AXIS_TITLES[0], G.left, 8);
      ctx.fillText(AXIS_TITLES[1], 2, G.top - 9);
      ctx.font = "11px sans-serif";
      const tile = doc.createElement("canvas");
      tile.width = th.t;
      tile.height = th.t;
      const tctx = tile.getContext("2d");
      for (let l = 0; l < B; l++) {
        for (let hd = 0; hd < H; hd++) {
          const p = th.thumbs[l * H + hd];
          const rgb = headColor(hd);
          const px = new Uint8ClampedArray(th.t * th.t * 4);
          for (let k = 0; k < p.length; k++) {
            if (causal && k % th.t > Math.floor(k / th.t)) {  // a decoder's future: empty, not zero weight
              px[4 * k] = px[4 * k + 1] = px[4 * k + 2] = EMPTY_GREY;
              px[4 * k + 3] = 255;
              continue;
            }
            const v = p[k];
            px[4 * k] = 255 + (rgb[0] - 255) * v;
            px[4 * k + 1] = 255 + (rgb[1] - 255) * v;
            px[4 * k + 2] = 255 + (rgb[2] - 255) * v;
            px[4 * k + 3] = 255;
          }
          const o = cellOrigin(G, l, hd);
          ctx.globalAlpha = mask[l]?.[hd] ? 1 : 0.25;
          if (tctx) {
            tctx.putImageData(new ImageData(px, th.t, th.t), 0, 0);
            ctx.imageSmoothingEnabled = false;
            ctx.drawImage(tile, o.x, o.y, G.cell, G.cell);
          }
          ctx.globalAlpha = 1;
          ctx.strokeStyle = l === layer ? "#000" : "#ccc";
          ctx.lineWidth = l === layer ? 1.5 : 1;
          ctx.strokeRect(o.x + 0.5, o.y + 0.5, G.cell - 1, G.cell - 1);
          if (score) {  // the score as a frame (reds, darker = higher) and its value in the corner
            const v = score.values[l * H + hd];
            ctx.strokeStyle = css(color("reds", score.max > 0 ? v / score.max : 0));
            ctx.lineWidth = 4;
            ctx.strokeRect(o.x + 2, o.y + 2, G.cell - 4, G.cell - 4);
            ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
            ctx.fillRect(o.x + 3, o.y + G.cell - 15, 28, 12);
            ctx.fillStyle = "#111";
            ctx.font = "10px sans-serif";
            ctx.textAlign = "left";
            ctx.textBaseline = "middle";
            ctx.fillText(v.toFixed(2), o.x + 4, o.y + G.cell - 9);
          }
        }
      }
    }
    linesNote.textContent = causal ? "causal attention: the grey upper triangle of each map is the future, which a "
      + "decoder's tokens cannot attend to (not a zero weight)" : "";
    root.removeAttribute("data-loading");
    const on = mask.flat().filter(Boolean).length;
    return { mode: "model", layer, "num-tokens": s[2], "heads-on": on, "color-heads": score ? score.name : "",
      causal: String(causal), checksum: checksum([th.sum, layer, mask.flat().map(Number).join(""), score ? score.name : "", causal]) };
  }

  function draw() {
    syncToolbar();
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
    const N = s[2];
    const e = /** @type {KeyboardEvent} */ (ev);
    /** @type {Focus} */
    let next;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      const i = focus ? focus.index + (e.key === "ArrowDown" ? 1 : -1) : 0;
      next = { side: focus?.side ?? "left", index: clamp(i, 0, N - 1) };
    } else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      next = { side: e.key === "ArrowLeft" ? "left" : "right", index: focus?.index ?? 0 };
    } else if (e.key === "Escape") {
      next = null;
    } else return;
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
    const hit = gridHit(modelGrid(), p.x, p.y);
    if (!hit) return;
    const mask = heads();
    mask[hit.row] = mask[hit.row].map((_, k) => k === hit.col);
    update(model, { layer: hit.row, heads: mask, mode: "head" });
  });
  d.listen(modelCanvas, "mousemove", (ev) => {
    const p = local(ev, modelCanvas);
    const hit = gridHit(modelGrid(), p.x, p.y);
    const score = headScore();
    const H = shape()?.[1] ?? 0;
    const extra = hit && score ? `, ${score.name.replace("_", "-")} score ${sig3(score.values[hit.row * H + hit.col])}` : "";
    readout.textContent = hit ? `block ${blockName(hit.row)}, head ${hit.col}${extra} (click to open)` : " ";
  });
  d.listen(save, "click", () => {
    const canvas = model.get("mode") === "model" ? modelCanvas : headCanvas;
    if (!canvas.toBlob) return;
    canvas.toBlob((blob) => {
      if (!blob) return;
      const name = `attnviz-attention-${model.get("mode")}-block${blockName(Number(model.get("layer")))}.png`;
      download(doc, blob, name);
      void sendPng(model, blob, name);
    }, "image/png");
  });

  draw();
  for (const name of ["attention", "attention_shape", "thumbnails", "tokens", "layer", "heads", "mode", "threshold", "coverage", "scale", "color_heads", "head_scores", "block_labels"]) d.on(model, `change:${name}`, draw);
  return () => d.dispose();
}

export default { render };
