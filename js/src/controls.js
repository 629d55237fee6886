// @ts-check
/**
 * Controls shared by the views: pickers, the layer slider, the B x H head grid, the legend, the prediction line,
 * the PNG button. Each returns its element and an `update` function; listeners go through the view's Disposer.
 */
import { NAMES, SCALES, SCALE_TITLES, css, fmt, gradientCss, resolveScale, scaleRange, scaleText, shortLabel } from "./colormap.js";
import { control, download, h } from "./dom.js";
import { sendPng } from "./model.js";

/** @typedef {import("./dom.js").Disposer} Disposer */
/** @typedef {import("./model.js").Model} Model */
/** @typedef {import("./colormap.js").Range} Range */

/**
 * A labelled <select>.
 * @param {Document} doc
 * @param {Disposer} d
 * @param {{label: string, cls: string, onChange: (value: string) => void}} opts
 */
export function picker(doc, d, opts) {
  const select = control(h(doc, "select", { class: `attnviz-select ${opts.cls}`, attrs: { "aria-label": opts.label } }));
  const el = h(doc, "label", { class: "attnviz-field", children: [h(doc, "span", { text: opts.label }), select] });
  d.listen(select, "change", () => opts.onChange(select.value));
  /**
   * @param {{value: string, text: string, title?: string}[]} options
   * @param {string} value
   */
  function update(options, value) {
    const same = select.options.length === options.length
      && options.every((o, i) => select.options[i].value === o.value && select.options[i].textContent === o.text);
    if (!same) {
      select.replaceChildren(...options.map((o) => h(doc, "option", { text: o.text, title: o.title, attrs: { value: o.value } })));
    }
    select.value = value;
  }
  return { el, select, update };
}

/**
 * A labelled checkbox.
 * @param {Document} doc
 * @param {Disposer} d
 * @param {{label: string, cls: string, title?: string, onChange: (checked: boolean) => void}} opts
 */
export function toggle(doc, d, opts) {
  const input = control(h(doc, "input", { class: `attnviz-check ${opts.cls}`, attrs: { type: "checkbox" } }));
  const el = h(doc, "label", { class: "attnviz-field", title: opts.title, children: [input, h(doc, "span", { text: opts.label })] });
  d.listen(input, "change", () => opts.onChange(input.checked));
  /** @param {boolean} checked */
  const update = (checked) => {
    input.checked = Boolean(checked);
  };
  return { el, input, update };
}

/**
 * The layer slider: "block l of B" (cumulative maps: row l = through blocks 0..l).
 * @param {Document} doc
 * @param {Disposer} d
 * @param {{label?: string, onInput: (layer: number) => void}} opts
 */
export function layerSlider(doc, d, opts) {
  const input = control(h(doc, "input", {
    class: "attnviz-layer-slider",
    attrs: { type: "range", min: 0, max: 0, step: 1, value: 0, "aria-label": opts.label ?? "block" },
  }));
  const readout = h(doc, "span", { class: "attnviz-layer-readout" });
  const label = h(doc, "span", { class: "attnviz-layer-label", text: opts.label ?? "through block" });
  const el = h(doc, "label", { class: "attnviz-field attnviz-layer", children: [label, input, readout] });
  d.listen(input, "input", () => opts.onInput(Number(input.value)));
  /**
   * @param {number} layer
   * @param {number} count blocks
   * @param {string} [text] the label: "through block" (a map carried up to the block) or "block" (its own)
   */
  function update(layer, count, text) {
    input.max = String(Math.max(0, count - 1));
    input.value = String(layer);
    readout.textContent = `${layer} / ${Math.max(0, count - 1)}`;
    if (text) label.textContent = text;
  }
  return { el, input, update };
}

/**
 * The B x H head grid: click a cell to toggle a head, a row label to toggle a block, a column label to toggle a head
 * in every block, "all" to keep every head. One delegated listener.
 * @param {Document} doc
 * @param {Disposer} d
 * @param {{onChange: (heads: boolean[][]) => void, colors?: (head: number) => string}} opts
 */
export function headGrid(doc, d, opts) {
  const table = h(doc, "div", { class: "attnviz-head-grid", attrs: { role: "grid" } });
  const note = h(doc, "div", { class: "attnviz-head-note" });
  const el = h(doc, "div", { class: "attnviz-heads", children: [table, note] });
  /** @type {boolean[][]} */
  let heads = [];
  let shape = "";
  let enabled = true;

  d.listen(table, "click", (ev) => {
    const target = /** @type {HTMLElement | null} */ (ev.target instanceof Element ? ev.target.closest("button") : null);
    if (!target || !enabled || !heads.length) return;
    const next = heads.map((r) => r.slice());
    const layer = target.getAttribute("data-layer");
    const head = target.getAttribute("data-head");
    if (target.classList.contains("attnviz-head-all")) {
      for (const r of next) r.fill(true);
    } else if (layer !== null && head !== null) {
      next[+layer][+head] = !next[+layer][+head];
    } else if (layer !== null) {
      const r = next[+layer];
      r.fill(!r.every(Boolean));
    } else if (head !== null) {
      const on = next.every((r) => r[+head]);
      for (const r of next) r[+head] = !on;
    }
    opts.onChange(next);
  });

  /**
   * @param {boolean[][]} mask B x H
   * @param {{enabled?: boolean, note?: string, current?: number, reads?: [number, number]}} [state]
   */
  function update(mask, state = {}) {
    heads = (mask ?? []).map((r) => r.slice());
    enabled = state.enabled ?? true;
    const B = heads.length;
    const H = B ? heads[0].length : 0;
    if (shape !== `${B}x${H}`) {
      shape = `${B}x${H}`;
      /** @param {string} cls @param {string} text @param {Record<string, string|number>} attrs @param {string} title */
      const btn = (cls, text, attrs, title) => control(h(doc, "button", { class: cls, text, title, attrs: { type: "button", ...attrs } }));
      const rows = [h(doc, "div", {
        class: "attnviz-head-grid-row",
        children: [btn("attnviz-head-all", "all", {}, "keep every head"),
          ...Array.from({ length: H }, (_, j) => btn("attnviz-head-col", String(j), { "data-head": j }, `toggle head ${j} in every block`))],
      })];
      for (let l = 0; l < B; l++) {
        rows.push(h(doc, "div", {
          class: "attnviz-head-grid-row",
          children: [btn("attnviz-head-row", `b${l}`, { "data-layer": l }, `toggle every head of block ${l}`),
            ...Array.from({ length: H }, (_, j) => btn("attnviz-head-cell", "", { "data-layer": l, "data-head": j }, `block ${l}, head ${j}`))],
        }));
      }
      table.replaceChildren(...rows);
    }
    table.querySelectorAll("button").forEach((b) => {
      b.disabled = !enabled;
    });
    table.querySelectorAll(".attnviz-head-cell").forEach((cell) => {
      const l = Number(cell.getAttribute("data-layer"));
      const j = Number(cell.getAttribute("data-head"));
      const on = Boolean(heads[l] && heads[l][j]);
      cell.setAttribute("aria-pressed", String(on));
      cell.classList.toggle("attnviz-on", on);
      cell.classList.toggle("attnviz-current", state.current === l);
      cell.classList.toggle("attnviz-unread", Boolean(state.reads) && (l < (state.reads?.[0] ?? 0) || l > (state.reads?.[1] ?? 0)));
      const c = opts.colors ? opts.colors(j) : null;
      /** @type {HTMLElement} */ (cell).style.background = on && c ? c : "";
    });
    note.textContent = state.note ?? "";
    el.classList.toggle("attnviz-disabled", !enabled);
  }
  return { el, update };
}

/**
 * A colour legend with its range and the colour-scale mode it was drawn on ("per map, min to max: 0.052 to 0.06").
 * @param {Document} doc
 */
export function legend(doc) {
  const bar = h(doc, "div", { class: "attnviz-legend-bar" });
  const lo = h(doc, "span", { class: "attnviz-legend-lo" });
  const mid = h(doc, "span", { class: "attnviz-legend-mid" });
  const hi = h(doc, "span", { class: "attnviz-legend-hi" });
  const mode = h(doc, "div", { class: "attnviz-legend-mode" });
  const el = h(doc, "div", { class: "attnviz-legend", children: [bar, h(doc, "div", { class: "attnviz-legend-ticks", children: [lo, mid, hi] }), mode] });
  /**
   * @param {string} cmap
   * @param {Range} range
   */
  function update(cmap, range) {
    bar.style.background = gradientCss(cmap);
    const rank = Boolean(range.sorted);
    lo.textContent = rank ? (range.signed ? "-100%" : "0%") : fmt(range.lo);
    mid.textContent = range.signed ? "0" : "";
    hi.textContent = rank ? "100%" : fmt(range.hi);
    mode.textContent = scaleText(range);
    el.title = mode.textContent;
    el.setAttribute("data-lo", String(range.lo));
    el.setAttribute("data-hi", String(range.hi));
    el.setAttribute("data-cmap", cmap);
    el.setAttribute("data-scale", range.mode ?? "");
  }
  return { el, update };
}

/**
 * The colour-scale picker (auto, per map, from zero, symmetric, fixed across blocks, rank).
 * @param {Document} doc
 * @param {Disposer} d
 * @param {(mode: string) => void} onChange
 */
export function scalePicker(doc, d, onChange) {
  const p = picker(doc, d, { label: "scale", cls: "attnviz-color-scale", onChange });
  const options = SCALES.map((m) => ({ value: m, text: m === "auto" ? "auto (per method)" : SCALE_TITLES[m] }));
  /** @param {string} value */
  const update = (value) => p.update(options, value || "auto");
  return { el: p.el, select: p.select, update };
}

/**
 * The range a view draws one block's map over: the model's `color_scale` (auto resolved per method family) applied
 * to this block's values, or to every block's for "blocks".
 * @param {Model} model
 * @param {ArrayLike<number>} values this block's map
 * @param {{signed: boolean, family?: string, skip?: ArrayLike<boolean | number>, all?: () => ArrayLike<number>[], mode?: string}} c
 */
export function viewRange(model, values, c) {
  const mode = resolveScale(c.mode ?? model.get("color_scale") ?? "auto", { signed: c.signed, family: c.family, values, skip: c.skip });
  return scaleRange(values, mode, c.signed, { skip: c.skip, all: mode === "blocks" && c.all ? c.all() : undefined });
}

/**
 * "predicted: <label> (p = 0.93) · explaining: <label> (p = 0.07)".
 * @param {Document} doc
 */
export function prediction(doc) {
  const el = h(doc, "div", { class: "attnviz-prediction" });
  /**
   * @param {string[]} labels
   * @param {ArrayLike<number>} probs
   * @param {number} predicted
   * @param {number} target
   * @param {boolean} [multiLabel] independent sigmoids: name every class at p >= 0.5, most probable first
   * @param {string} [warning] said after the line, marked (e.g. the logits hold NaN or inf)
   * @param {{probs: ArrayLike<number>, off: number} | null} [ablated] the model's answer with `off` heads ablated
   * @param {{nextToken?: boolean, foil?: number, nextInText?: number}} [lm] a language model: "predicted next
   *   token", the foil, and the candidate that follows in the text (its loss is said with ablation)
   */
  function update(labels, probs, predicted, target, multiLabel = false, warning = "", ablated = null, lm = {}) {
    const p = (/** @type {number} */ i) => (probs && probs.length > i ? Number(probs[i]).toFixed(3) : "?");
    const full = (/** @type {number} */ i) => `${labels[i] ?? i}`;
    const name = (/** @type {number} */ i) => shortLabel(full(i));
    /** @type {HTMLElement[]} */
    let said;
    if (multiLabel) {
      const present = Array.from(probs ?? [], (v, i) => [Number(v), i]).filter(([v]) => v >= 0.5)
        .sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, i]) => i);
      said = [h(doc, "span", { text: "present (p ≥ 0.5): " })];
      present.forEach((i, k) => said.push(
        h(doc, "b", { class: "attnviz-predicted", text: name(i), title: full(i) }),
        h(doc, "span", { text: ` (${p(i)})${k < present.length - 1 ? ", " : ""}` }),
      ));
      if (!present.length) said.push(h(doc, "span", { class: "attnviz-predicted-none", text: "none" }));
    } else {
      said = [
        h(doc, "span", { text: lm.nextToken ? "predicted next token: " : "predicted: " }),
        h(doc, "b", { class: "attnviz-predicted", text: name(predicted), title: full(predicted) }),
        h(doc, "span", { text: ` (p = ${p(predicted)})` }),
      ];
    }
    el.replaceChildren(
      ...said,
      h(doc, "span", { class: "attnviz-sep", text: " · explaining: " }),
      h(doc, "b", { class: "attnviz-target", text: name(target), title: full(target) }),
      h(doc, "span", { text: ` (p = ${p(target)})` }),
      ...(lm.foil !== undefined && lm.foil >= 0
        ? [h(doc, "span", { text: " versus " }), h(doc, "b", { class: "attnviz-foil-name", text: name(lm.foil), title: full(lm.foil) }),
          h(doc, "span", { text: ` (p = ${p(lm.foil)}): the logit difference` })]
        : []),
      ...(warning
        ? [h(doc, "span", { class: "attnviz-prediction-warning", attrs: { role: "alert" }, text: ` ⚠ ${warning}` })]
        : []),
      ...(ablated ? [ablatedLine(doc, probs, ablated, target, name, full, lm.nextInText ?? -1)] : []),
    );
    el.classList.toggle("attnviz-nonfinite", Boolean(warning));
  }
  return { el, update };
}

/**
 * The PNG button: `draw()` returns a canvas of what is shown (or null where there is no canvas); the PNG is offered
 * as a download and sent to the kernel (`view.last_png`).
 * @param {Document} doc
 * @param {Disposer} d
 * @param {Model} model
 * @param {{name: () => string, draw: () => HTMLCanvasElement | null}} opts
 */
export function saveButton(doc, d, model, opts) {
  const el = control(h(doc, "button", { class: "attnviz-save", text: "PNG", title: "save what is shown as PNG", attrs: { type: "button" } }));
  d.listen(el, "click", () => {
    const canvas = opts.draw();
    if (!canvas || !canvas.toBlob) return;
    canvas.toBlob((blob) => {
      if (!blob) return;
      const name = opts.name();
      download(doc, blob, name);
      void sendPng(model, blob, name);
    }, "image/png");
  });
  return el;
}

/**
 * The method and class pickers of the relevance views: kernel-bound (their change goes through ``toKernel``).
 * @param {Document} doc
 * @param {Disposer} d
 * @param {(values: Record<string, any>) => void} toKernel
 */
export function methodPicker(doc, d, toKernel) {
  return picker(doc, d, { label: "method", cls: "attnviz-method", onChange: (v) => toKernel({ method: v }) });
}

/**
 * @param {Document} doc
 * @param {Disposer} d
 * @param {(values: Record<string, any>) => void} toKernel
 */
export function classPicker(doc, d, toKernel, label = "class") {
  return picker(doc, d, { label, cls: "attnviz-class", onChange: (v) => toKernel({ target: Number(v) }) });
}

/**
 * A language model's contrastive token: "versus" one of the candidates, so the maps explain y_target − y_foil.
 * @param {Document} doc
 * @param {Disposer} d
 * @param {(values: Record<string, any>) => void} toKernel
 */
export function foilPicker(doc, d, toKernel) {
  const p = picker(doc, d, { label: "versus", cls: "attnviz-foil", onChange: (v) => toKernel({ foil: Number(v) }) });
  p.el.title = "explain the logit difference of the next token and this one (why this token rather than that)";
  /** @param {Model} model */
  function update(model) {
    const labels = model.get("label_names") ?? [];
    const t = Number(model.get("target"));
    const options = [{ value: "-1", text: "— (the token alone)" },
      ...labels.map((/** @type {string} */ l, /** @type {number} */ i) => ({ value: String(i), text: shortLabel(String(l)), title: String(l) }))
        .filter((/** @type {{value: string}} */ o) => Number(o.value) !== t)];
    p.update(options, String(model.get("foil") ?? -1));
  }
  return { el: p.el, select: p.select, update };
}

/**
 * "in the model, with 3 heads ablated: predicted <label> (p = 0.41) · explaining <label>: p = 0.41 (was 0.93)".
 * @param {Document} doc
 * @param {ArrayLike<number>} probs before
 * @param {{probs: ArrayLike<number>, off: number}} ablated
 * @param {number} target
 * @param {(i: number) => string} name
 * @param {(i: number) => string} full
 * @param {number} [nextInText] a language model's candidate that follows in the text: its loss before and after
 */
function ablatedLine(doc, probs, ablated, target, name, full, nextInText = -1) {
  const q = ablated.probs;
  let best = 0;
  for (let i = 1; i < q.length; i++) if (q[i] > q[best]) best = i;
  const f = (/** @type {ArrayLike<number>} */ x, /** @type {number} */ i) => (x && x.length > i ? Number(x[i]).toFixed(3) : "?");
  return h(doc, "div", { class: "attnviz-ablated", children: [
    h(doc, "span", { text: ablated.off ? `in the model, with the ${ablated.off} switched-off head${ablated.off > 1 ? "s" : ""} ablated: predicted ` : "in the model, no head switched off: predicted " }),
    h(doc, "b", { class: "attnviz-ablated-predicted", text: name(best), title: full(best) }),
    h(doc, "span", { text: ` (p = ${f(q, best)}) · ${name(target)}: p = ${f(q, target)} (was ${f(probs, target)})` }),
    ...(nextInText >= 0 && q.length > nextInText && probs.length > nextInText
      ? [h(doc, "span", { class: "attnviz-ablated-loss", text: ` · loss on the text's next token ${name(nextInText)}: `
        + `${(-Math.log(Math.max(Number(probs[nextInText]), 1e-45))).toFixed(3)} → `
        + `${(-Math.log(Math.max(Number(q[nextInText]), 1e-45))).toFixed(3)} nats` })]
      : []),
  ] });
}

/**
 * A toggle that ablates the switched-off heads in the model (kernel) so the prediction line shows its answer.
 * @param {Document} doc
 * @param {Disposer} d
 * @param {(values: Record<string, any>) => void} toKernel
 */
export function ablationToggle(doc, d, toKernel) {
  return toggle(doc, d, { label: "ablate switched-off heads in the model", cls: "attnviz-ablate",
    title: "run the model again with the heads switched off in the grid zeroed, and show its prediction beside the original",
    onChange: (v) => toKernel({ ablate: v }) });
}

/**
 * Bring the class picker and the prediction line up to the model's state (labels, probabilities, predicted class,
 * target, multi-label or not).
 * @param {ReturnType<typeof import("./view.js").createView>} view
 * @param {any} target the class picker
 * @param {any} pred the prediction line
 */
export function syncClassControls(view, target, pred) {
  const { model } = view;
  const probs = view.floats("probs");
  const p = probs ? probs.data : [];
  const labels = model.get("label_names") ?? [];
  target.update(classOptions(labels, p), String(model.get("target")));
  const after = view.floats("ablated_probs");
  const off = (model.get("heads") ?? []).flat().filter((/** @type {boolean} */ x) => !x).length;
  pred.update(labels, p, model.get("predicted"), model.get("target"), Boolean(model.get("multi_label")),
    String(model.get("prediction_warning") ?? ""), model.get("ablate") && after && after.data.length ? { probs: after.data, off } : null,
    { nextToken: model.get("target_kind") === "next token", foil: Number(model.get("foil") ?? -1),
      nextInText: Number(model.get("next_in_text") ?? -1) });
}

/**
 * Bring the controls TextView and ImageView share up to the model's state: method picker and its description, class
 * picker, prediction line, colour map picker, head grid (inert where no kernel answers or the method ignores heads)
 * and the kernel's error line.
 * @param {ReturnType<typeof import("./view.js").createView>} view
 * @param {{method: any, description: HTMLElement, target: any, pred: any, cmap: any, grid: any, status: any}} c
 */
export function syncRelevanceControls(view, c) {
  const { model } = view;
  const info = model.get("method_info") ?? {};
  const m = model.get("method");
  c.method.update(methodOptions(model.get("available_methods"), info), m);
  c.description.textContent = info?.[m]?.description ?? "";
  syncClassControls(view, c.target, c.pred);
  c.cmap.update(["auto", ...NAMES].map((n) => ({ value: n, text: n })), model.get("colormap") || "auto");
  const usesHeads = model.get("uses_heads") !== false;
  const layer = Number(model.get("layer") ?? 0);
  const reads = readsAt(model, layer);
  c.grid.update(model.get("heads"), {
    enabled: view.kernel && usesHeads,
    current: layer,
    reads: reads ?? undefined,
    note: !usesHeads || !reads ? `${m} does not read attention heads${usesHeads ? " at this block" : ""}: switching heads off does not change it`
      : `${m} at block ${layer} reads ${reads[0] === reads[1] ? `block ${reads[0]} alone` : `blocks ${reads[0]}-${reads[1]}`}`
        + `${reads[0] > 0 || reads[1] < (model.get("heads") ?? []).length - 1 ? " (heads of the greyed blocks do not change it)" : ""}; `
        + "click a cell, a block (row) or a head (column) to toggle",
  });
  c.status.update(model.get("error"));
}

/**
 * The blocks [lo, hi] that row `layer` of the current method reads (the kernel's `reads` trait), or null when it
 * reads no attention.
 * @param {import("./model.js").Model} model
 * @param {number} layer
 * @returns {[number, number] | null}
 */
export function readsAt(model, layer) {
  const all = /** @type {number[][] | undefined} */ (model.get("reads"));
  if (!all || !all.length) return [0, layer];  // an older kernel: the cumulative reading
  const r = all[layer];
  return r && r.length === 2 ? [r[0], r[1]] : null;
}

/** The slider's label for a method's row: "through block" when it carries several blocks, "block" for one.
 * @param {import("./model.js").Model} model @param {number} layer */
export function sliderLabel(model, layer) {
  const r = readsAt(model, layer);
  return r && r[0] < r[1] ? "through block" : "block";
}

/**
 * A line showing the kernel's error, if any.
 * @param {Document} doc
 */
export function statusLine(doc) {
  const el = h(doc, "div", { class: "attnviz-status", attrs: { role: "status" } });
  /** @param {string} text */
  const update = (text) => {
    el.textContent = text || "";
    el.hidden = !text;
  };
  return { el, update };
}

/**
 * Method picker options from the kernel's method_info.
 * @param {string[]} names
 * @param {Record<string, {description?: string}>} info
 */
export function methodOptions(names, info) {
  return (names ?? []).map((n) => ({ value: n, text: n, title: info?.[n]?.description ?? "" }));
}

/**
 * Class picker options "label (p)".
 * @param {string[]} labels
 * @param {ArrayLike<number>} probs
 */
export function classOptions(labels, probs) {
  return (labels ?? []).map((l, i) => ({ value: String(i), title: String(l),
    text: probs && probs.length > i ? `${shortLabel(l)} (${Number(probs[i]).toFixed(2)})` : shortLabel(l) }));
}

export { css };
