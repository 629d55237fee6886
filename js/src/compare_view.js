// @ts-check
/**
 * CompareView: several methods side by side for one input (tokens for text, overlays for images), each with its
 * own colour scale or one shared rank scale, and the per-method score when the evaluation code has filled `scores`.
 * Layer slider and shared scale are answered here; class, heads and the list of methods go to the kernel.
 *
 * Traits read: kind, methods, available_methods, method_info, maps (list, one {dtype, shape [B, U] or [B, gh, gw],
 * buffer, scale} per method), signed (list), scores {method: number | {metric: number}}, shared_scale, color_scale, layer,
 * heads, uses_heads, target, label_names, probs, predicted, units, unit_segments, unit_special, ignore_special,
 * image, patch_grid, opacity, size, colormap, error, revision, _static.
 */
import { decodeFloat, row } from "./codec.js";
import { fmt, pick, resolveScale, scaleRange } from "./colormap.js";
import { classPicker, foilPicker, headGrid, layerSlider, legend, picker, prediction, scalePicker, statusLine, syncClassControls, toggle } from "./controls.js";
import { checksum, context2d, control, download, h } from "./dom.js";
import { sendPng, update } from "./model.js";
import { fit, overlayChecksum, overlayPixels, paintOverlay } from "./overlay.js";
import { tokenRows, tokensCanvas } from "./tokens.js";
import { clamp, createView } from "./view.js";

/** @typedef {import("./colormap.js").Range} Range */

/**
 * The range each panel is drawn on. Methods have different units (attention weights sum to one, LRP relevance
 * conserves the logit, gradients are per unit of embedding), so one value range would blank all panels but the one
 * with the largest values. Shared therefore means rank: every panel coloured by each value's percentile in its own
 * map, so equal colours mean equal standing across methods. Not shared: each panel on the view's colour scale,
 * "auto" resolved per method family.
 * @param {ArrayLike<number>[]} rows this block's map of each method
 * @param {{signed: boolean, family?: string}[]} kinds
 * @param {{shared: boolean, mode?: string, skip?: ArrayLike<boolean | number>, all?: (i: number) => ArrayLike<number>[]}} opts
 * @returns {Range[]}
 */
export function panelRanges(rows, kinds, opts) {
  return rows.map((values, i) => {
    const { signed, family } = kinds[i];
    const mode = opts.shared ? "rank" : resolveScale(opts.mode ?? "auto", { signed, family, values, skip: opts.skip });
    return scaleRange(values, mode, signed, { skip: opts.skip, all: mode === "blocks" && opts.all ? opts.all(i) : undefined });
  });
}

/**
 * "score 0.123" or "aopc 0.12 · comprehensiveness 0.34".
 * @param {unknown} score
 */
export function scoreText(score) {
  if (score === null || score === undefined) return "";
  if (typeof score === "number") return `score ${fmt(score)}`;
  if (typeof score === "object") {
    return Object.entries(/** @type {Record<string, unknown>} */ (score))
      .map(([k, v]) => `${k} ${typeof v === "number" ? fmt(v) : String(v)}`).join(" · ");
  }
  return String(score);
}

/** @param {import("./model.js").RenderArgs} args */
export function render({ model, el }) {
  const view = createView(model, el, "compare");
  const { doc, d, root, kernel, toKernel } = view;
  const pred = prediction(doc);
  const lm = model.get("target_kind") === "next token";
  const target = classPicker(doc, d, toKernel, lm ? "next token" : "class");
  const foil = foilPicker(doc, d, toKernel);
  foil.el.hidden = !lm;
  const shared = toggle(doc, d, { label: "shared scale (rank)", cls: "attnviz-shared-scale",
    title: "colour every method by percentile, so colours compare across methods whose units differ",
    onChange: (v) => update(model, { shared_scale: v }) });
  const scale = scalePicker(doc, d, (v) => update(model, { color_scale: v }));
  const add = picker(doc, d, { label: "add", cls: "attnviz-add-method", onChange: (v) => {
    if (v) toKernel({ methods: [...(model.get("methods") ?? []), v] });
  } });
  const slider = layerSlider(doc, d, { onInput: (l) => update(model, { layer: l }) });
  const save = control(h(doc, "button", { class: "attnviz-save", text: "PNG", title: "save what is shown as PNG", attrs: { type: "button" } }));
  const panels = h(doc, "div", { class: "attnviz-panels" });
  const grid = headGrid(doc, d, { onChange: (heads) => toKernel({ heads }) });
  const status = statusLine(doc);
  target.select.disabled = add.select.disabled = foil.select.disabled = !kernel;
  root.append(
    pred.el,
    h(doc, "div", { class: "attnviz-toolbar", children: [target.el, foil.el, shared.el, scale.el, add.el, save] }),
    h(doc, "div", { class: "attnviz-toolbar", children: [slider.el] }),
    panels,
    grid.el,
    status.el,
  );

  /** @type {{method: string, el: HTMLElement, body: HTMLElement, score: HTMLElement, note: HTMLElement, leg: ReturnType<typeof legend>,
   *   tokens?: ReturnType<typeof tokenRows>, canvas?: HTMLCanvasElement}[]} */
  let built = [];
  /** @type {{raw: unknown, value: import("./codec.js").FloatTensor}[]} */
  let decoded = [];
  /** @type {{method: string, values: Float32Array, cmap: string, range: Range}[]} */
  let shown = [];

  d.listen(panels, "click", (ev) => {
    const t = ev.target instanceof Element ? ev.target.closest(".attnviz-remove") : null;
    if (!t || !kernel) return;
    const m = t.getAttribute("data-method");
    const rest = (model.get("methods") ?? []).filter((/** @type {string} */ x) => x !== m);
    if (rest.length) toKernel({ methods: rest });
  });

  function tensors() {
    const list = model.get("maps") ?? [];
    decoded = list.map((/** @type {any} */ raw, /** @type {number} */ i) => (decoded[i] && decoded[i].raw === raw ? decoded[i] : { raw, value: decodeFloat(raw) }));
    return decoded.map((x) => x.value);
  }

  function build() {
    const methods = /** @type {string[]} */ (model.get("methods") ?? []);
    const info = model.get("method_info") ?? {};
    const kind = model.get("kind");
    built = methods.map((m) => {
      const score = h(doc, "span", { class: "attnviz-score" });
      const remove = control(h(doc, "button", { class: "attnviz-remove", text: "×", title: `remove ${m}`, attrs: { type: "button", "data-method": m } }));
      remove.disabled = !kernel || methods.length < 2;
      const header = h(doc, "div", { class: "attnviz-panel-header", children: [
        h(doc, "b", { class: "attnviz-panel-method", text: m, title: info?.[m]?.description ?? "" }), score, remove] });
      const leg = legend(doc);
      /** @type {ReturnType<typeof tokenRows> | undefined} */
      let tokens;
      /** @type {HTMLCanvasElement | undefined} */
      let canvas;
      let body;
      if (kind === "image") {
        canvas = h(doc, "canvas", { class: "attnviz-panel-canvas" });
        body = canvas;
      } else {
        tokens = tokenRows(doc);
        tokens.setUnits(model.get("units"), model.get("unit_segments"), model.get("unit_special"));
        body = tokens.el;
      }
      const note = h(doc, "div", { class: "attnviz-method-note", attrs: { role: "note" } });
      const panel = h(doc, "div", { class: "attnviz-compare-panel", attrs: { "data-method": m }, children: [header, body, leg.el, note] });
      return { method: m, el: panel, body, score, leg, tokens, canvas, note };
    });
    panels.replaceChildren(...built.map((b) => b.el));
    panels.classList.toggle("attnviz-panels-image", kind === "image");
  }

  function syncControls() {
    syncClassControls(view, target, pred);
    foil.update(model);
    shared.update(model.get("shared_scale"));
    scale.update(model.get("color_scale"));
    scale.select.disabled = Boolean(model.get("shared_scale"));
    const methods = model.get("methods") ?? [];
    const rest = (model.get("available_methods") ?? []).filter((/** @type {string} */ m) => !methods.includes(m));
    add.update([{ value: "", text: "…" }, ...rest.map((/** @type {string} */ m) => ({ value: m, text: m }))], "");
    const scores = model.get("scores") ?? {};
    const notes = model.get("notes") ?? {};
    for (const b of built) {
      b.score.textContent = scoreText(scores[b.method]);
      b.note.textContent = String(notes[b.method] ?? "");  // e.g. an LRP map whose relevance is not conserved
      b.note.hidden = !b.note.textContent;
    }
    grid.update(model.get("heads"), { enabled: kernel && model.get("uses_heads") !== false, current: model.get("layer"),
      note: "heads: applied to every method that uses them" });
    status.update(model.get("error"));
  }

  function draw() {
    view.draw(() => {
      const maps = tensors();
      const signed = /** @type {boolean[]} */ (model.get("signed") ?? []);
      if (!maps.length || maps.length !== built.length) return { checksum: "empty" };
      const B = maps[0].shape[0];
      const layer = clamp(Number(model.get("layer") ?? B - 1), 0, B - 1);
      slider.update(layer, B);
      const kind = model.get("kind");
      const special = kind !== "image" && model.get("ignore_special") ? model.get("unit_special") ?? undefined : undefined;
      const unseen = kind !== "image" ? model.get("unit_unseen") ?? [] : [];
      // units after a decoder's explained position are not seen by its prediction: uncoloured, out of the range
      const neutral = unseen.some(Boolean) ? Array.from(model.get("units") ?? [], (_, i) => Boolean(special?.[i]) || Boolean(unseen[i])) : special;
      const rows = maps.map((t) => row(t, Math.min(layer, t.shape[0] - 1)));
      const info = model.get("method_info") ?? {};
      const kinds = built.map((b, i) => ({ signed: Boolean(signed[i]), family: info?.[b.method]?.family }));
      const ranges = panelRanges(rows, kinds, { shared: Boolean(model.get("shared_scale")), mode: model.get("color_scale"),
        skip: neutral, all: (i) => Array.from({ length: maps[i].shape[0] }, (_, l) => row(maps[i], l)) });
      /** @type {(string | number)[]} */
      const sums = [layer, String(Boolean(model.get("shared_scale"))), ranges.map((r) => r.mode).join(",")];
      shown = [];
      built.forEach((b, i) => {
        const cmap = pick(model.get("colormap"), Boolean(signed[i]), kind === "image" ? "image" : "text");
        b.leg.update(cmap, ranges[i]);
        shown.push({ method: b.method, values: rows[i], cmap, range: ranges[i] });
        if (b.tokens) {
          sums.push(...b.tokens.paint(rows[i], cmap, ranges[i], neutral));
          b.tokens.mark(Number(model.get("explained_unit") ?? -1), unseen);
        }
        if (b.canvas) {
          const [gh, gw] = model.get("patch_grid") ?? [0, 0];
          const image = model.get("image");
          const size = fit(image?.shape ?? [gh, gw], Number(model.get("size") ?? 224));
          const alpha = Number(model.get("opacity") ?? 0.6);
          const px = overlayPixels(rows[i], gh, gw, size.w, size.h, cmap, ranges[i]);
          paintOverlay(b.canvas, { image, w: size.w, h: size.h, overlay: px, opacity: alpha });
          sums.push(overlayChecksum(rows[i], ranges[i], cmap, alpha, [b.method]));
        }
      });
      return { layer, methods: built.map((b) => b.method).join(","), target: model.get("target"),
        "shared-scale": String(Boolean(model.get("shared_scale"))), scales: ranges.map((r) => r.mode).join(","), checksum: checksum(sums) };
    });
  }

  d.listen(save, "click", () => {
    const parts = built.map((b, i) => {
      if (b.canvas) return { title: b.method, canvas: b.canvas };
      const s = shown[i];
      if (!s) return null;
      return { title: "", canvas: tokensCanvas(doc, { title: `${s.method} · through block ${model.get("layer")}`, units: b.tokens?.units ?? [],
        values: s.values, segments: model.get("unit_segments") ?? [], cmap: s.cmap, range: s.range, neutral: undefined }) };
    }).filter((p) => p && p.canvas);
    if (!parts.length) return;
    const ratio = (typeof devicePixelRatio === "number" && devicePixelRatio) || 1;
    const sizes = parts.map((p) => ({ w: (p?.canvas?.width ?? 0) / ratio, h: (p?.canvas?.height ?? 0) / ratio + (p?.title ? 20 : 0) }));
    const image = model.get("kind") === "image";
    const W = image ? sizes.reduce((a, s) => a + s.w + 8, 0) : Math.max(...sizes.map((s) => s.w));
    const H = image ? Math.max(...sizes.map((s) => s.h)) : sizes.reduce((a, s) => a + s.h, 0);
    const out = doc.createElement("canvas");
    const ctx = context2d(out, W, H);
    if (!ctx || !out.toBlob) return;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, W, H);
    let x = 0;
    let y = 0;
    parts.forEach((p, i) => {
      if (!p || !p.canvas) return;
      ctx.fillStyle = "#111";
      ctx.font = "bold 13px sans-serif";
      if (p.title) ctx.fillText(p.title, x + 2, y + 14);
      ctx.drawImage(p.canvas, x, y + (p.title ? 20 : 0), sizes[i].w, sizes[i].h - (p.title ? 20 : 0));
      if (image) x += sizes[i].w + 8;
      else y += sizes[i].h;
    });
    out.toBlob((blob) => {
      if (!blob) return;
      const name = `attnviz-compare-block${model.get("layer")}.png`;
      download(doc, blob, name);
      void sendPng(model, blob, name);
    }, "image/png");
  });

  build();
  syncControls();
  draw();
  d.on(model, "change:methods", () => { build(); syncControls(); draw(); });
  d.on(model, "change:units", () => { build(); draw(); });
  for (const name of ["maps", "scale", "signed", "layer", "shared_scale", "color_scale", "colormap", "opacity", "size", "image", "ignore_special", "unit_unseen", "explained_unit"]) d.on(model, `change:${name}`, draw);
  d.on(model, "change:layer", syncControls);
  for (const name of ["scores", "notes", "target", "probs", "heads", "error", "available_methods", "uses_heads", "predicted", "prediction_warning", "foil", "label_names"]) d.on(model, `change:${name}`, syncControls);
  return () => d.dispose();
}

export default { render };
