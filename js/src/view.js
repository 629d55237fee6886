// @ts-check
/**
 * What every view shares: the root element with its data-* attributes (for browser tests: data-view, data-layer,
 * data-render-count, data-checksum, data-last-draw-ms, data-frame-ms, data-revision, data-pending,
 * data-scale-factor), projector mode (the `scale` trait as CSS zoom), the cached
 * decoding of tensor traits, and the kernel-bound controls that send a change and wait for the kernel's next
 * revision.
 */
import { decodeFloat } from "./codec.js";
import { Disposer, h, now } from "./dom.js";
import { isStatic, update } from "./model.js";

/** @typedef {import("./model.js").Model} Model */
/** @typedef {import("./codec.js").FloatTensor} FloatTensor */

/**
 * @param {Model} model
 * @param {HTMLElement} el
 * @param {string} kind "text" | "image" | "attention" | "compare"
 */
export function createView(model, el, kind) {
  const doc = el.ownerDocument;
  const d = new Disposer();
  const root = h(doc, "div", { class: `attnviz attnviz-${kind}-view`, attrs: { "data-view": kind, "data-render-count": 0 } });
  if (isStatic(model)) root.setAttribute("data-static", "true");
  el.appendChild(root);
  d.add(() => root.remove());
  let renders = 0;
  /** @type {Map<string, {raw: unknown, value: FloatTensor | null}>} */
  const cache = new Map();

  const view = {
    doc,
    d,
    root,
    model,
    /**
     * The decoded float tensor of a trait, decoded once per new value.
     * @param {string} name
     * @returns {FloatTensor | null}
     */
    floats(name) {
      const raw = model.get(name);
      const hit = cache.get(name);
      if (hit && hit.raw === raw) return hit.value;
      const value = raw && raw.shape && raw.shape.length ? decodeFloat(raw) : null;
      cache.set(name, { raw, value });
      return value;
    },
    /**
     * The decoded float tensor of a value inside a trait (a dict of tensors), decoded once per new value.
     * @param {string} key a cache key (e.g. the dict entry's name)
     * @param {any} raw the {dtype, shape, buffer, scale} value
     * @returns {FloatTensor | null}
     */
    floatsOf(key, raw) {
      const hit = cache.get(`/${key}`);
      if (hit && hit.raw === raw) return hit.value;
      const value = raw && raw.shape && raw.shape.length ? decodeFloat(raw) : null;
      cache.set(`/${key}`, { raw, value });
      return value;
    },
    /**
     * Run a draw and stamp the root: render count, checksum, draw time.
     * @param {() => (Record<string, string | number | undefined> | void)} fn returns data-* attributes (checksum etc.)
     */
    draw(fn) {
      const t0 = now();
      const attrs = fn() || {};
      renders += 1;
      for (const [k, v] of Object.entries(attrs)) if (v !== undefined) root.setAttribute(`data-${k}`, String(v));
      root.setAttribute("data-render-count", String(renders));
      root.setAttribute("data-last-draw-ms", (now() - t0).toFixed(2));
      // Canvas work is recorded by the draw and rasterised when the frame is produced: the time to the second
      // animation frame after the draw bounds "until it is on screen" (what a person waits for).
      if (typeof requestAnimationFrame === "function") {
        const count = renders;
        requestAnimationFrame(() => requestAnimationFrame(() => {
          if (count === renders) root.setAttribute("data-frame-ms", (now() - t0).toFixed(2));
        }));
      }
    },
    /** Mark that a change went to the kernel; cleared when its answer (a new revision) arrives. */
    pending() {
      root.setAttribute("data-pending", "true");
    },
    /** Whether a kernel answers (false in an exported HTML page: kernel-bound controls are then inert). */
    kernel: !isStatic(model),
    /**
     * Send a kernel-bound change (method, class, heads, ...) and mark the view pending until the kernel's answer.
     * @param {Record<string, any>} values
     */
    toKernel(values) {
      view.pending();
      update(model, values);
    },
  };
  // Projector mode: the whole view (text, controls, canvases, image) drawn `scale` times larger. CSS zoom keeps the
  // layout maths in one unit; context2d and canvasPoint (dom.js) read it back for sharp canvases and hit tests.
  const applyScale = () => {
    const s = Number(model.get("scale") ?? 1);
    if (Number.isFinite(s) && s > 0 && s !== 1) root.style.zoom = String(s);
    else root.style.removeProperty("zoom");
    root.setAttribute("data-scale-factor", String(Number.isFinite(s) && s > 0 ? s : 1));
  };
  applyScale();
  d.on(model, "change:scale", applyScale);
  const onRevision = () => {
    root.setAttribute("data-revision", String(model.get("revision") ?? 0));
    root.removeAttribute("data-pending");
  };
  onRevision();
  d.on(model, "change:revision", onRevision);
  return view;
}

/**
 * @param {number} v
 * @param {number} lo
 * @param {number} hi
 */
export function clamp(v, lo, hi) {
  return Math.max(lo, Math.min(hi, v));
}
