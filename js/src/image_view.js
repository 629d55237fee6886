// @ts-check
/**
 * ImageView: the image as the model saw it with the patch relevance laid over it (bilinear upsampling, opacity,
 * colormap). The layer slider is answered here from the [B, gh, gw] maps; method, class and heads go to the kernel.
 * Clicking a patch sets `selected_patch`; the kernel answers with `patch_attention` [B, gh, gw] (the attention from
 * that patch in each block, mean over the kept heads) and the slider then walks through the blocks.
 *
 * Traits read: image {uint8 [h, w, 3]}, patch_grid, maps [B, gh, gw], signed, method, available_methods, method_info,
 * target, label_names, probs, predicted, layer, heads, uses_heads, colormap, color_scale, opacity, size, selected_patch,
 * patch_attention [B, gh, gw], attention_patch, error, revision, _static.
 */
import { row } from "./codec.js";
import { pick, readable } from "./colormap.js";
import { ablationToggle, classPicker, headGrid, layerSlider, legend, methodPicker, picker, prediction, saveButton, scalePicker, sliderLabel, statusLine, syncRelevanceControls, viewRange } from "./controls.js";
import { control, h } from "./dom.js";
import { patchAt } from "./layout.js";
import { update } from "./model.js";
import { fit, overlayChecksum, overlayPixels, paintOverlay } from "./overlay.js";
import { clamp, createView } from "./view.js";

/** @param {import("./model.js").RenderArgs} args */
export function render({ model, el }) {
  const view = createView(model, el, "image");
  const { doc, d, root, kernel, toKernel } = view;

  const pred = prediction(doc);
  const method = methodPicker(doc, d, toKernel);
  const target = classPicker(doc, d, toKernel);
  const cmap = picker(doc, d, { label: "colours", cls: "attnviz-colormap", onChange: (v) => update(model, { colormap: v }) });
  const scale = scalePicker(doc, d, (v) => update(model, { color_scale: v }));
  const opacity = control(h(doc, "input", { class: "attnviz-opacity", attrs: { type: "range", min: 0, max: 1, step: 0.05, "aria-label": "opacity" } }));
  d.listen(opacity, "input", () => update(model, { opacity: Number(opacity.value) }));
  const slider = layerSlider(doc, d, { onInput: (l) => update(model, { layer: l }) });
  const leg = legend(doc);
  // what the method noted about this map (an LRP map whose relevance is not conserved, a Grad-CAM map clamped to zero)
  const methodNote = h(doc, "div", { class: "attnviz-method-note", attrs: { role: "note" } });
  const canvas = control(h(doc, "canvas", { class: "attnviz-image-canvas", attrs: { tabindex: 0, "aria-label": "image with relevance; click a patch to see its attention" } }));
  const mode = h(doc, "div", { class: "attnviz-mode" });
  const clear = control(h(doc, "button", { class: "attnviz-clear-patch", text: "back to relevance", attrs: { type: "button" } }));
  d.listen(clear, "click", () => toKernel({ selected_patch: -1 }));
  const readout = h(doc, "div", { class: "attnviz-readout", text: " " });
  const grid = headGrid(doc, d, { onChange: (heads) => toKernel({ heads }) });
  const ablate = ablationToggle(doc, d, toKernel);
  const status = statusLine(doc);
  const description = h(doc, "div", { class: "attnviz-description" });
  const save = saveButton(doc, d, model, {
    name: () => `attnviz-${model.get("method")}-block${model.get("layer")}.png`,
    draw: () => canvas,
  });
  for (const c of [method.select, target.select]) c.disabled = !kernel;

  root.append(
    pred.el,
    h(doc, "div", { class: "attnviz-toolbar", children: [method.el, target.el, cmap.el, scale.el,
      h(doc, "label", { class: "attnviz-field", children: [h(doc, "span", { text: "opacity" }), opacity] }), save] }),
    description,
    h(doc, "div", { class: "attnviz-toolbar", children: [slider.el, leg.el] }),
    methodNote,
    h(doc, "div", { class: "attnviz-mode-line", children: [mode, clear] }),
    canvas,
    readout,
    grid.el,
    ablate.el,
    status.el,
  );

  /** The grid shown now: patch attention when a patch is selected (and has arrived), else the method's map. */
  function current() {
    const sel = Number(model.get("selected_patch") ?? -1);
    // patch_attention belongs to attention_patch: until the kernel answers a new click, keep showing the map
    const pa = sel >= 0 && Number(model.get("attention_patch")) === sel ? view.floats("patch_attention") : null;
    return pa ? { tensor: pa, patch: sel } : { tensor: view.floats("maps"), patch: -1 };
  }

  /** @param {MouseEvent} ev */
  function hit(ev) {
    const [gh, gw] = model.get("patch_grid") ?? [0, 0];
    const rect = canvas.getBoundingClientRect();
    const w = rect.width || canvas.clientWidth || 1;
    const hgt = rect.height || canvas.clientHeight || 1;
    return gh ? patchAt(ev.clientX - rect.left, ev.clientY - rect.top, w, hgt, gh, gw) : null;
  }

  d.listen(canvas, "click", (ev) => {
    const p = hit(ev);
    if (!p || !kernel) return;
    const [, gw] = model.get("patch_grid");
    const idx = p.r * gw + p.c;
    toKernel({ selected_patch: idx === model.get("selected_patch") ? -1 : idx });
  });
  // Keyboard: arrows move a patch cursor (its value in the readout), Enter/Space selects it, Escape clears.
  /** @type {{r: number, c: number} | null} */
  let cursor = null;
  d.listen(canvas, "keydown", (ev) => {
    const e = /** @type {KeyboardEvent} */ (ev);
    const [gh, gw] = model.get("patch_grid") ?? [0, 0];
    if (!gh) return;
    const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    if (e.key in moves) {
      const [dr, dc] = moves[/** @type {keyof typeof moves} */ (e.key)];
      const start = cursor ?? { r: 0, c: 0 };
      cursor = cursor ? { r: clamp(start.r + dr, 0, gh - 1), c: clamp(start.c + dc, 0, gw - 1) } : start;
      const { tensor } = current();
      const layer = tensor ? clamp(Number(model.get("layer")), 0, tensor.shape[0] - 1) : 0;
      const values = tensor ? row(tensor, layer) : [];
      const v = tensor ? readable(values[cursor.r * gw + cursor.c], values) : "";
      readout.textContent = `patch (${cursor.r}, ${cursor.c}): ${v} (Enter: show its attention)`;
      root.setAttribute("data-cursor", `${cursor.r},${cursor.c}`);
    } else if ((e.key === "Enter" || e.key === " ") && cursor && kernel) {
      toKernel({ selected_patch: cursor.r * gw + cursor.c });
    } else if (e.key === "Escape" && kernel) {
      toKernel({ selected_patch: -1 });
    } else return;
    e.preventDefault();
  });
  /** @type {{r: number, c: number} | null} */
  let hovered = null;  // the patch under the mouse: its readout follows every redraw (method, class, layer switch)
  /** The hovered patch's value in the map drawn now. @param {ArrayLike<number>} values @param {number} gw */
  function hoverText(values, gw) {
    return hovered ? `patch (${hovered.r}, ${hovered.c}): ${readable(values[hovered.r * gw + hovered.c], values)}` : " ";
  }
  d.listen(canvas, "mousemove", (ev) => {
    const p = hit(ev);
    const { tensor } = current();
    if (!p || !tensor) return;
    hovered = p;
    const [, gw] = model.get("patch_grid");
    const layer = clamp(Number(model.get("layer")), 0, tensor.shape[0] - 1);
    readout.textContent = hoverText(row(tensor, layer), gw);
  });
  d.listen(canvas, "mouseleave", () => { hovered = null; });

  function syncControls() {
    syncRelevanceControls(view, { method, description, target, pred, cmap, grid, status });
    methodNote.textContent = String(model.get("method_note") ?? "");
    methodNote.hidden = !methodNote.textContent;
    ablate.update(model.get("ablate"));
    ablate.input.disabled = !kernel;
    opacity.value = String(model.get("opacity") ?? 0.6);
    scale.update(model.get("color_scale"));
  }

  let shownPatch = -1;
  function draw() {
    view.draw(() => {
      const { tensor, patch } = current();
      const [gh, gw] = model.get("patch_grid") ?? [0, 0];
      const image = model.get("image");
      const size = fit(image?.shape ?? [gh, gw], Number(model.get("size") ?? 320));
      if (!tensor || !gh) {
        paintOverlay(canvas, { image, w: size.w, h: size.h, overlay: null, opacity: 0 });
        return { checksum: "empty" };
      }
      const B = tensor.shape[0];
      const layer = clamp(Number(model.get("layer") ?? B - 1), 0, B - 1);
      slider.update(layer, B, sliderLabel(model, layer));
      const values = row(tensor, layer);
      const signed = patch < 0 && Boolean(model.get("signed"));
      const family = patch >= 0 ? "attention" : (model.get("method_info") ?? {})[model.get("method")]?.family;
      const range = viewRange(model, values, { signed, family, all: () => Array.from({ length: B }, (_, l) => row(tensor, l)) });
      const name = pick(model.get("colormap"), signed, "image");
      const alpha = Number(model.get("opacity") ?? 0.6);
      const px = overlayPixels(values, gh, gw, size.w, size.h, name, range);
      const mark = patch >= 0 ? { r: Math.floor(patch / gw), c: patch % gw, gh, gw } : null;
      paintOverlay(canvas, { image, w: size.w, h: size.h, overlay: px, opacity: alpha, mark });
      leg.update(name, range);
      if (patch !== shownPatch) {  // what the hover/keyboard readout said belongs to the previous picture
        shownPatch = patch;
        readout.textContent = mark ? `showing the attention from patch (${mark.r}, ${mark.c}); Escape or "back to relevance" goes back` : " ";
      } else if (hovered && patch < 0) readout.textContent = hoverText(values, gw);  // never the previous map's value
      mode.textContent = patch >= 0
        ? `attention from patch (${Math.floor(patch / gw)}, ${patch % gw}) in block ${layer}, mean over the kept heads`
        : `${model.get("method")} ${sliderLabel(model, layer)} ${layer}`;
      clear.hidden = patch < 0;
      return {
        layer, method: model.get("method"), target: model.get("target"), "selected-patch": patch,
        scale: range.mode, checksum: overlayChecksum(values, range, name, alpha, [layer, patch, range.mode ?? ""]),
      };
    });
  }

  syncControls();
  draw();
  for (const name of ["maps", "patch_attention", "attention_patch", "image", "size", "opacity", "scale", "signed", "colormap", "color_scale", "selected_patch"]) {
    d.on(model, `change:${name}`, () => { draw(); syncControls(); });
  }
  d.on(model, "change:layer", () => { draw(); syncControls(); });
  d.on(model, "change:reads", () => { draw(); syncControls(); });
  for (const name of ["method", "target", "heads", "probs", "error", "available_methods", "uses_heads", "method_note", "predicted", "prediction_warning", "ablate", "ablated_probs"]) {
    d.on(model, `change:${name}`, syncControls);
  }
  return () => d.dispose();
}

export default { render };
