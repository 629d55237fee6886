// @ts-check
/**
 * TextView: the input's tokens coloured by relevance. The layer slider is answered here from the [B, U] maps the
 * kernel sent (row l = the method carried through blocks 0..l); method, class, heads and word aggregation go to the
 * kernel, which answers with new maps and a new `revision`.
 *
 * Traits read: units, unit_segments, unit_special, maps {dtype, shape [B, U], buffer, scale}, signed, method,
 * available_methods, method_info, target, label_names, probs, predicted, layer, heads, uses_heads, word_level,
 * ignore_special, colormap, color_scale, error, revision, _static. Traits written: layer, method, target, heads,
 * word_level, ignore_special, colormap, color_scale.
 */
import { row } from "./codec.js";
import { pick, shortLabel } from "./colormap.js";
import { ablationToggle, classPicker, foilPicker, headGrid, layerSlider, legend, methodPicker, picker, prediction, saveButton, scalePicker, sliderLabel, statusLine, syncRelevanceControls, toggle, viewRange } from "./controls.js";
import { checksum, h } from "./dom.js";
import { update } from "./model.js";
import { tokenRows, tokenSearch, tokensCanvas } from "./tokens.js";
import { clamp, createView } from "./view.js";

/** @param {import("./model.js").RenderArgs} args */
export function render({ model, el }) {
  const view = createView(model, el, "text");
  const { doc, d, root, kernel, toKernel } = view;
  const pred = prediction(doc);
  const method = methodPicker(doc, d, toKernel);
  const lm = model.get("target_kind") === "next token";
  const target = classPicker(doc, d, toKernel, lm ? "next token" : "class");
  const foil = foilPicker(doc, d, toKernel);
  foil.el.hidden = !lm;
  const cmap = picker(doc, d, { label: "colours", cls: "attnviz-colormap", onChange: (v) => update(model, { colormap: v }) });
  const scale = scalePicker(doc, d, (v) => update(model, { color_scale: v }));
  const words = toggle(doc, d, { label: "words", cls: "attnviz-word-level", title: "aggregate word pieces into words", onChange: (v) => toKernel({ word_level: v }) });
  const special = toggle(doc, d, { label: "hide special", cls: "attnviz-ignore-special", title: "leave [CLS]/[SEP] out of the colour range", onChange: (v) => update(model, { ignore_special: v }) });
  const slider = layerSlider(doc, d, { onInput: (l) => update(model, { layer: l }) });
  const leg = legend(doc);
  // what the method noted about this map (an LRP map whose relevance is not conserved, a Grad-CAM map clamped to zero)
  const methodNote = h(doc, "div", { class: "attnviz-method-note", attrs: { role: "note" } });
  const tokens = tokenRows(doc);
  const search = tokenSearch(doc, d, tokens);
  const readout = h(doc, "div", { class: "attnviz-readout", text: " " });
  const grid = headGrid(doc, d, { onChange: (heads) => toKernel({ heads }) });
  const ablate = ablationToggle(doc, d, toKernel);
  const status = statusLine(doc);
  const description = h(doc, "div", { class: "attnviz-description" });

  /** @type {{values: Float32Array, cmap: string, range: import("./colormap.js").Range, neutral?: boolean[]} | null} */
  let shown = null;
  const save = saveButton(doc, d, model, {
    name: () => `attnviz-${model.get("method")}-block${model.get("layer")}.png`,
    draw: () => shown && tokensCanvas(doc, {
      title: `${model.get("method")} · ${shortLabel((model.get("label_names") ?? [])[model.get("target")] ?? "")} · ${sliderLabel(model, Number(model.get("layer")))} ${model.get("layer")}`,
      units: tokens.units, values: shown.values, segments: model.get("unit_segments") ?? [], cmap: shown.cmap,
      range: shown.range, neutral: shown.neutral,
    }),
  });
  for (const c of [method.select, target.select, words.input]) c.disabled = !kernel;
  if (!kernel) method.select.title = target.select.title = "needs a running kernel (static export)";

  root.append(
    pred.el,
    h(doc, "div", { class: "attnviz-toolbar", children: [method.el, target.el, foil.el, cmap.el, scale.el, words.el, special.el, save] }),
    description,
    h(doc, "div", { class: "attnviz-toolbar", children: [slider.el, leg.el, search.el] }),
    methodNote,
    tokens.el,
    readout,
    grid.el,
    ablate.el,
    status.el,
  );

  /** @type {Element | null} */
  let hovered = null;  // the token under the mouse: its readout follows every redraw (method, class, versus switch)
  d.listen(tokens.el, "mouseover", (ev) => {
    const t = ev.target instanceof Element ? ev.target.closest(".attnviz-token") : null;
    if (t) {
      hovered = t;
      readout.textContent = t.getAttribute("title") ?? "";
    }
  });
  d.listen(tokens.el, "mouseleave", () => { hovered = null; });

  function syncControls() {
    syncRelevanceControls(view, { method, description, target, pred, cmap, grid, status });
    methodNote.textContent = String(model.get("method_note") ?? "");
    methodNote.hidden = !methodNote.textContent;
    foil.update(model);
    foil.select.disabled = !kernel;
    ablate.update(model.get("ablate"));
    ablate.input.disabled = !kernel;
    scale.update(model.get("color_scale"));
    words.update(model.get("word_level"));
    special.update(model.get("ignore_special"));
  }

  function rebuild() {
    tokens.setUnits(model.get("units"), model.get("unit_segments"), model.get("unit_special"));
    search.refresh();
  }

  function draw() {
    view.draw(() => {
      const maps = view.floats("maps");
      if (!maps) return { checksum: "empty" };
      const B = maps.shape[0];
      const layer = clamp(Number(model.get("layer") ?? B - 1), 0, B - 1);
      slider.update(layer, B, sliderLabel(model, layer));
      const values = row(maps, layer);
      const signed = Boolean(model.get("signed"));
      const special = model.get("ignore_special") ? model.get("unit_special") ?? undefined : undefined;
      const unseen = model.get("unit_unseen") ?? [];
      // units after a decoder's explained position are not seen by its prediction: no colour, out of the range
      const neutral = unseen.some(Boolean) ? Array.from(values, (_, i) => Boolean(special?.[i]) || Boolean(unseen[i])) : special;
      const family = (model.get("method_info") ?? {})[model.get("method")]?.family;
      const range = viewRange(model, values, { signed, family, skip: neutral, all: () => Array.from({ length: B }, (_, l) => row(maps, l)) });
      const name = pick(model.get("colormap"), signed, "text");
      const drawn = tokens.paint(values, name, range, neutral);
      tokens.mark(Number(model.get("explained_unit") ?? -1), unseen);
      // the readout shows the hovered token's value in the map drawn now, never the previous map's
      readout.textContent = hovered?.isConnected ? hovered.getAttribute("title") ?? " " : " ";
      leg.update(name, range);
      shown = { values, cmap: name, range, neutral };
      return {
        layer, method: model.get("method"), target: model.get("target"), "num-units": values.length,
        "word-level": String(Boolean(model.get("word_level"))),
        scale: range.mode, "explained-unit": Number(model.get("explained_unit") ?? -1),
        checksum: checksum([layer, name, range.mode ?? "", range.lo, range.hi, ...drawn]),
      };
    });
  }

  rebuild();
  syncControls();
  draw();
  d.on(model, "change:units", () => { rebuild(); draw(); });
  d.on(model, "change:unit_unseen", draw);
  d.on(model, "change:explained_unit", draw);
  d.on(model, "change:maps", draw);
  d.on(model, "change:reads", () => { syncControls(); draw(); });
  d.on(model, "change:layer", () => { draw(); syncControls(); });
  for (const name of ["scale", "signed", "colormap", "color_scale", "ignore_special", "unit_special"]) d.on(model, `change:${name}`, () => { syncControls(); draw(); });
  for (const name of ["method", "target", "heads", "probs", "word_level", "error", "available_methods", "uses_heads", "method_note", "predicted", "prediction_warning", "ablate", "ablated_probs", "foil", "label_names"]) {
    d.on(model, `change:${name}`, syncControls);
  }
  return () => d.dispose();
}

export default { render };
