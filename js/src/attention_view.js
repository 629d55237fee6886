// @ts-check
/**
 * AttentionView: raw attention as a head view (queries on the left, keys on the right, a line per weight above the
 * threshold, one colour per head; hover a token to isolate its lines) and a model view (B x H thumbnails; click one
 * to open it in the head view). Both on canvas. The [B, H, N, N] attention arrives once as float16 and stays
 * undecoded: a draw reads one block's bits (positive float16 bits order like their values, so the threshold test is
 * an integer compare) and decodes only the weights it draws. Everything here is answered in the browser.
 *
 * Traits read: tokens, segments, attention {float16 [B, H, N, N]}, layer, heads, mode ("head" | "model"),
 * threshold, _static. Traits written: layer, heads, mode.
 */
import { floatToHalf, halfBits, halfTable } from "./codec.js";
import { css, headColor, sig3, textColor } from "./colormap.js";
import { checksum, context2d, control, download, h } from "./dom.js";
import { cellOrigin, gridHit, gridLayout, headViewHit, headViewLayout, pool, rowY } from "./layout.js";
import { copyHeads, sendPng, update } from "./model.js";
import { clamp, createView } from "./view.js";

/** Alpha levels: a line of weight w is drawn with alpha ceil(w * LEVELS) / LEVELS, one path per head and level. */
export const LEVELS = 8;
/**
 * At most this many lines per draw: past it the weakest lines are left out (counted in data-lines-hidden), so a
 * near-uniform block of 512 tokens cannot freeze the page. Measured in headless Chromium with software raster:
 * 3,000 one-pixel lines reach the screen in about one frame, 12,500 in about 70 ms, 30,000 in about 140 ms.
 */
export const LINE_BUDGET = 6000;

/** The head view's geometry (layout.js headViewLayout options): the top margin holds the column titles. */
export const HEAD_LAYOUT = { width: 560, labelW: 110, top: 20 };
/** The model view's margins (layout.js gridLayout options): room for the axis titles and the numbers. */
export const GRID_MARGINS = { left: 48, top: 34 };

/** What the two token columns of the head view are: each line goes from a query token to a key token. */
export const COLUMN_TITLES = ["attends from (query)", "to (key)"];
/** The model view's axes: one row per block, one column per head. */
export const AXIS_TITLES = ["head →", "block ↓"];

/**
 * The largest weight (in the tensor's stored units) of the kept heads of one block: what a blank head view says.
 * @param {Uint16Array} bits float16 bits of [B, H, N, N]
 * @param {number[]} shape
 * @param {number} layer
 * @param {boolean[]} kept
 */
export function strongestWeight(bits, shape, layer, kept) {
  const [, H, N] = shape;
  let best = 0;
  for (let hd = 0; hd < H; hd++) {
    if (!kept[hd]) continue;
    const base = (layer * H + hd) * N * N;
    for (let k = 0; k < N * N; k++) {
      const b = bits[base + k];
      if (b < 0x7c00 && b > best) best = b;  // positive float16 bits order like their values
    }
  }
  return halfTable()[best];
}

/** @param {number} v */
function strongestLabel(v) {
  return sig3(v);
}
const HIST = new Uint32Array(0x7c00);

/**
 * @typedef {{head: number, levels: number[][]}} HeadLines levels[k] = flat [i0, j0, i1, j1, ...]
 * @typedef {{side: "left" | "right", index: number} | null} Focus
 */

/**
 * Which lines the head view draws for one block: weights >= threshold of the kept heads, restricted to the focused
 * token's row (left) or column (right). Pure, for tests.
 * @param {Uint16Array} bits float16 bits of [B, H, N, N]
 * @param {number[]} shape
 * @param {number} layer
 * @param {boolean[]} kept [H]
 * @param {number} threshold
 * @param {Focus} focus
 * @param {number} [scale] the tensor's scale (weights = stored * scale; the kernel sends attention with scale 1)
 * @param {number} [budget] most lines to keep: the weakest go first
 */
export function headViewPlan(bits, shape, layer, kept, threshold, focus, scale = 1, budget = Infinity) {
  const [, H, N] = shape;
  const table = halfTable();
  const thr = Math.max(1, floatToHalf(threshold / scale));
  const i0 = focus && focus.side === "left" ? focus.index : 0;
  const i1 = focus && focus.side === "left" ? focus.index + 1 : N;
  const j0 = focus && focus.side === "right" ? focus.index : 0;
  const j1 = focus && focus.side === "right" ? focus.index + 1 : N;
  /** @type {number[]} */
  const heads = [];
  for (let hd = 0; hd < H; hd++) if (kept[hd]) heads.push(hd);
  // Over budget, keep the strongest lines: a histogram of the (positive, hence ordered) float16 bits gives the cutoff;
  // lines exactly at the cutoff are kept while room is left.
  let cutoff = thr;
  let room = Infinity;
  let hidden = 0;
  if (Number.isFinite(budget)) {
    HIST.fill(0);
    let total = 0;
    for (const hd of heads) {
      const base = (layer * H + hd) * N * N;
      for (let i = i0; i < i1; i++) {
        const o = base + i * N;
        for (let j = j0; j < j1; j++) {
          const b = bits[o + j];
          if (b >= thr && b < 0x7c00) {
            HIST[b] += 1;
            total += 1;
          }
        }
      }
    }
    if (total > budget) {
      let fits = 0;
      let c = 0x7bff;
      while (c > thr && fits + HIST[c] <= budget) fits += HIST[c--];
      cutoff = c;
      room = budget - fits;
      hidden = total - budget;
    }
  }
  /** @type {HeadLines[]} */
  const plan = [];
  let count = 0;
  for (const hd of heads) {
    /** @type {number[][]} */
    const levels = Array.from({ length: LEVELS }, () => []);
    const base = (layer * H + hd) * N * N;
    for (let i = i0; i < i1; i++) {
      const o = base + i * N;
      for (let j = j0; j < j1; j++) {
        const b = bits[o + j];
        if (b < cutoff || b >= 0x7c00) continue;  // below threshold/cutoff, or negative / inf / NaN bit patterns
        if (b === cutoff && hidden > 0) {
          if (room <= 0) continue;
          room -= 1;
        }
        const k = Math.min(LEVELS - 1, Math.ceil(table[b] * scale * LEVELS) - 1);
        levels[Math.max(0, k)].push(i, j);
        count += 1;
      }
    }
    plan.push({ head: hd, levels });
  }
  return { heads: plan, count, hidden };
}

/**
 * A short label for a canvas (canvas text is not HTML, but long tokens would overlap the lines).
 * @param {string} t
 */
function short(t) {
  return t.length > 14 ? `${t.slice(0, 13)}…` : t;
}

/** @param {import("./model.js").RenderArgs} args */
export function render({ model, el }) {
  const view = createView(model, el, "attention");
  const { doc, d, root } = view;

  const modeHead = control(h(doc, "button", { class: "attnviz-mode-head", text: "head view", attrs: { type: "button" } }));
  const modeModel = control(h(doc, "button", { class: "attnviz-mode-model", text: "model view", attrs: { type: "button" } }));
  d.listen(modeHead, "click", () => update(model, { mode: "head" }));
  d.listen(modeModel, "click", () => update(model, { mode: "model" }));
  const slider = control(h(doc, "input", { class: "attnviz-layer-slider", attrs: { type: "range", min: 0, max: 0, step: 1, "aria-label": "block" } }));
  const sliderReadout = h(doc, "span", { class: "attnviz-layer-readout" });
  d.listen(slider, "input", () => update(model, { layer: Number(slider.value) }));
  const swatches = h(doc, "div", { class: "attnviz-head-swatches" });
  const allHeads = control(h(doc, "button", { class: "attnviz-head-all", text: "all heads", attrs: { type: "button" } }));
  const headCanvas = control(h(doc, "canvas", { class: "attnviz-head-canvas", attrs: { tabindex: 0, "aria-label": "head view: hover or use arrow keys to isolate a token" } }));
  const modelCanvas = control(h(doc, "canvas", { class: "attnviz-model-canvas", attrs: { tabindex: 0, "aria-label": "model view: click a thumbnail to open it" } }));
  const readout = h(doc, "div", { class: "attnviz-readout", text: " " });
  const linesNote = h(doc, "div", { class: "attnviz-lines-note" });
  const save = control(h(doc, "button", { class: "attnviz-save", text: "PNG", title: "save what is shown as PNG", attrs: { type: "button" } }));

  root.append(
    h(doc, "div", { class: "attnviz-toolbar", children: [modeHead, modeModel,
      h(doc, "label", { class: "attnviz-field attnviz-layer", children: [h(doc, "span", { text: "block" }), slider, sliderReadout] }),
      swatches, allHeads, save] }),
    h(doc, "div", { class: "attnviz-canvas-wrap", children: [headCanvas, modelCanvas] }),
    readout,
    linesNote,
  );

  /** @type {Focus} */
  let focus = null;
  let shownMode = "";
  /** @type {{raw: unknown, half: import("./codec.js").HalfTensor} | null} */
  let decoded = null;
  /** @type {{raw: unknown, cell: number, thumbs: Float32Array[], t: number, sum: string} | null} */
  let thumbs = null;

  function attention() {
    const raw = model.get("attention");
    if (!raw || !raw.shape || raw.shape.length !== 4) return null;
    if (!decoded || decoded.raw !== raw) decoded = { raw, half: halfBits(raw) };
    return decoded.half;
  }

  /** @returns {boolean[][]} */
  function heads() {
    const a = attention();
    const mask = copyHeads(model.get("heads"));
    if (a && mask.length !== a.shape[0]) return Array.from({ length: a.shape[0] }, () => Array(a.shape[1]).fill(true));
    return mask;
  }

  function tokens() {
    return /** @type {string[]} */ ((model.get("tokens") ?? []).map(String));
  }

  function layout() {
    const a = attention();
    return headViewLayout(a ? a.shape[2] : 0, HEAD_LAYOUT);
  }

  function syncToolbar() {
    const a = attention();
    const B = a ? a.shape[0] : 1;
    const H = a ? a.shape[1] : 0;
    const layer = clamp(Number(model.get("layer") ?? 0), 0, B - 1);
    slider.max = String(B - 1);
    slider.value = String(layer);
    sliderReadout.textContent = `${layer} / ${B - 1}`;
    const mask = heads();
    if (swatches.childElementCount !== H) {
      swatches.replaceChildren(...Array.from({ length: H }, (_, j) => control(h(doc, "button", {
        class: "attnviz-head-swatch", text: String(j), title: `head ${j} (shift-click: only this head)`,
        attrs: { type: "button", "data-head": j },
        style: { "--attnviz-head": css(headColor(j)), "--attnviz-head-text": textColor(headColor(j)) },
      }))));
    }
    swatches.querySelectorAll(".attnviz-head-swatch").forEach((s) => {
      const j = Number(s.getAttribute("data-head"));
      const on = Boolean(mask[layer]?.[j]);
      s.setAttribute("aria-pressed", String(on));
      s.classList.toggle("attnviz-on", on);
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
    swatches.hidden = allHeads.hidden = mode !== "head";
  }

  d.listen(swatches, "click", (ev) => {
    const t = ev.target instanceof Element ? ev.target.closest(".attnviz-head-swatch") : null;
    const a = attention();
    if (!t || !a) return;
    const j = Number(t.getAttribute("data-head"));
    const layer = clamp(Number(model.get("layer")), 0, a.shape[0] - 1);
    const mask = heads();
    if (/** @type {MouseEvent} */ (ev).shiftKey) mask[layer] = mask[layer].map((_, k) => k === j);
    else mask[layer][j] = !mask[layer][j];
    update(model, { heads: mask });
  });
  d.listen(allHeads, "click", () => {
    update(model, { heads: heads().map((r) => r.map(() => true)) });
  });

  function drawHead() {
    const a = attention();
    if (!a) return { checksum: "empty", mode: "head" };
    const [B, H, N] = a.shape;
    const layer = clamp(Number(model.get("layer") ?? 0), 0, B - 1);
    const kept = heads()[layer] ?? Array(H).fill(true);
    const threshold = Number(model.get("threshold") ?? 0.02);
    const plan = headViewPlan(a.bits, a.shape, layer, kept, threshold, focus, a.scale, LINE_BUDGET);
    const L = layout();
    const toks = tokens();
    const ctx = context2d(headCanvas, L.width, L.height);
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
        ctx.font = `${Math.min(12, L.rowH - 2)}px sans-serif`;
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
    if (!plan.count && !focus) {
      const strongest = strongestWeight(a.bits, a.shape, layer, kept) * a.scale;
      linesNote.textContent = kept.some(Boolean)
        ? `no line drawn: no weight of the ${kept.filter(Boolean).length} heads shown reaches the threshold ${threshold} `
          + `in block ${layer} (the largest is ${strongestLabel(strongest)}). Lower it: AttentionView(e, threshold=...)`
        : "no line drawn: every head of this block is switched off (click a head swatch to show it)";
      root.setAttribute("data-blank-reason", kept.some(Boolean) ? "threshold" : "heads");
      return { mode: "head", layer, "num-tokens": N, lines: 0, "lines-hidden": 0, "heads-on": kept.filter(Boolean).length,
        focus: "", checksum: checksum([layer, kept.map(Number).join(""), threshold, "blank"]) };
    }
    root.removeAttribute("data-blank-reason");
    linesNote.textContent = plan.hidden
      ? `showing the strongest ${plan.count.toLocaleString("en")} of ${(plan.count + plan.hidden).toLocaleString("en")} lines `
        + `above the threshold ${threshold}; hover a token to see all of its lines`
      : "";
    /** @type {(string | number)[]} */
    const sum = [layer, kept.map(Number).join(""), threshold, focus ? `${focus.side}${focus.index}` : "-"];
    for (const { head, levels } of plan.heads) {
      levels.forEach((pairs, k) => {
        let s = 0;
        for (let p = 0; p < pairs.length; p += 2) s = (s * 31 + pairs[p] * N + pairs[p + 1]) % 2147483647;
        sum.push(head, k, pairs.length, s);
      });
    }
    return {
      mode: "head", layer, "num-tokens": N, lines: plan.count, "lines-hidden": plan.hidden, "heads-on": kept.filter(Boolean).length,
      focus: focus ? `${focus.side}:${focus.index}` : "", checksum: checksum(sum),
    };
  }

  function modelGrid() {
    const a = attention();
    const [B, H] = a ? a.shape : [0, 0];
    return gridLayout(B, H, { cell: H > 12 ? 44 : 56, ...GRID_MARGINS });
  }

  function ensureThumbs() {
    const a = attention();
    if (!a) return null;
    const G = modelGrid();
    if (thumbs && thumbs.raw === decoded?.raw && thumbs.cell === G.cell) return thumbs;
    const [B, H, N] = a.shape;
    const t = Math.min(N, G.cell);
    const table = halfTable();
    /** @type {Float32Array[]} */
    const list = [];
    /** @type {number[]} */
    const sums = [];
    for (let l = 0; l < B; l++) {
      for (let hd = 0; hd < H; hd++) {
        const p = pool(a.bits, (l * H + hd) * N * N, N, t, table);
        let mx = 0;
        for (let k = 0; k < p.length; k++) mx = Math.max(mx, p[k]);
        let s = 0;
        for (let k = 0; k < p.length; k++) {
          p[k] = mx > 0 ? Math.sqrt(p[k] / mx) : 0;  // sqrt: faint structure stays visible next to a strong diagonal
          s += Math.round(p[k] * 255);
        }
        list.push(p);
        sums.push(s);
      }
    }
    thumbs = { raw: decoded?.raw, cell: G.cell, thumbs: list, t, sum: checksum(sums) };
    return thumbs;
  }

  function drawModel() {
    const a = attention();
    const th = ensureThumbs();
    if (!a || !th) return { checksum: "empty", mode: "model" };
    const [B, H] = a.shape;
    const G = modelGrid();
    const layer = clamp(Number(model.get("layer") ?? 0), 0, B - 1);
    const mask = heads();
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
      for (let l = 0; l < B; l++) ctx.fillText(String(l), G.left - 6, cellOrigin(G, l, 0).y + G.cell / 2);
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
        }
      }
    }
    linesNote.textContent = "";
    const on = mask.flat().filter(Boolean).length;
    return { mode: "model", layer, "num-tokens": a.shape[2], "heads-on": on, checksum: checksum([th.sum, layer, mask.flat().map(Number).join("")]) };
  }

  function draw() {
    syncToolbar();
    view.draw(() => (model.get("mode") === "model" ? drawModel() : drawHead()));
  }

  /** @param {MouseEvent} ev */
  function local(ev, canvas = headCanvas) {
    const rect = canvas.getBoundingClientRect();
    return { x: ev.clientX - rect.left, y: ev.clientY - rect.top };
  }

  d.listen(headCanvas, "mousemove", (ev) => {
    const p = local(ev);
    const hit = headViewHit(layout(), p.x, p.y);
    const next = hit ? { side: /** @type {"left" | "right"} */ (hit.side), index: hit.index } : null;
    if (JSON.stringify(next) === JSON.stringify(focus)) return;
    focus = next;
    readout.textContent = focus ? `${focus.side === "left" ? "from" : "to"} "${tokens()[focus.index] ?? ""}" (token ${focus.index})` : " ";
    draw();
  });
  d.listen(headCanvas, "mouseleave", () => {
    if (!focus) return;
    focus = null;
    readout.textContent = " ";
    draw();
  });
  d.listen(headCanvas, "keydown", (ev) => {
    const a = attention();
    if (!a) return;
    const N = a.shape[2];
    const e = /** @type {KeyboardEvent} */ (ev);
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      const i = focus ? focus.index + (e.key === "ArrowDown" ? 1 : -1) : 0;
      focus = { side: focus?.side ?? "left", index: clamp(i, 0, N - 1) };
    } else if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
      focus = { side: e.key === "ArrowLeft" ? "left" : "right", index: focus?.index ?? 0 };
    } else if (e.key === "Escape") {
      focus = null;
    } else return;
    e.preventDefault();
    readout.textContent = focus ? `${focus.side === "left" ? "from" : "to"} "${tokens()[focus.index] ?? ""}" (token ${focus.index})` : " ";
    draw();
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
    readout.textContent = hit ? `block ${hit.row}, head ${hit.col} (click to open)` : " ";
  });
  d.listen(save, "click", () => {
    const canvas = model.get("mode") === "model" ? modelCanvas : headCanvas;
    if (!canvas.toBlob) return;
    canvas.toBlob((blob) => {
      if (!blob) return;
      const name = `attnviz-attention-${model.get("mode")}-block${model.get("layer")}.png`;
      download(doc, blob, name);
      void sendPng(model, blob, name);
    }, "image/png");
  });

  draw();
  for (const name of ["attention", "tokens", "layer", "heads", "mode", "threshold"]) d.on(model, `change:${name}`, draw);
  return () => d.dispose();
}

export default { render };
