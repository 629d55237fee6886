// @ts-check
/**
 * DOM helpers. Text goes in only through textContent (token text, labels and titles come from the model and the
 * user and may contain markup: `<img src=x onerror=...>` must show as text). Every focusable control gets
 * `data-lm-suppress-shortcuts="true"` on the control itself so keys pressed in it do not run notebook shortcuts.
 * Listeners are registered through a Disposer so a view's cleanup removes every one of them.
 */

/**
 * @typedef {{class?: string, text?: string | number, title?: string, attrs?: Record<string, string | number | boolean>,
 *   style?: Record<string, string>, children?: (Node | null | undefined | false)[]}} Props
 */

/**
 * Create an element. Text and attributes only: no HTML parsing ever happens here.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {Document} doc
 * @param {K} tag
 * @param {Props} [props]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(doc, tag, props = {}) {
  const el = doc.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.text !== undefined) el.textContent = String(props.text);
  if (props.title !== undefined) el.title = props.title;
  for (const [k, v] of Object.entries(props.attrs ?? {})) {
    if (/^on/i.test(k)) throw new Error(`attnviz: refusing to set event-handler attribute ${k}`);
    el.setAttribute(k, String(v));
  }
  for (const [k, v] of Object.entries(props.style ?? {})) el.style.setProperty(k, v);
  for (const child of props.children ?? []) if (child) el.appendChild(child);
  return el;
}

/**
 * Mark a focusable control so notebook keyboard shortcuts leave it alone.
 * @template {HTMLElement} E
 * @param {E} el
 * @returns {E}
 */
export function control(el) {
  el.setAttribute("data-lm-suppress-shortcuts", "true");
  return el;
}

/** Collects teardown functions; `dispose()` runs each once, newest first. */
export class Disposer {
  constructor() {
    /** @type {(() => void)[]} */
    this.fns = [];
  }

  /** @param {() => void} fn */
  add(fn) {
    this.fns.push(fn);
  }

  /**
   * addEventListener that is undone on dispose.
   * @param {EventTarget} target
   * @param {string} type
   * @param {(ev: any) => void} fn
   * @param {AddEventListenerOptions} [opts]
   */
  listen(target, type, fn, opts) {
    target.addEventListener(type, fn, opts);
    this.add(() => target.removeEventListener(type, fn, opts));
  }

  /**
   * model.on that is undone on dispose.
   * @param {import("./model.js").Model} model
   * @param {string} name
   * @param {(...args: any[]) => void} fn
   */
  on(model, name, fn) {
    model.on(name, fn);
    this.add(() => model.off(name, fn));
  }

  dispose() {
    while (this.fns.length) {
      const fn = /** @type {() => void} */ (this.fns.pop());
      try {
        fn();
      } catch (err) {
        console.error("attnviz: cleanup failed", err);
      }
    }
  }
}

/**
 * A 32-bit FNV-1a hash as 8 hex digits, of strings and numbers (numbers as given: quantise them first). The views
 * put it in `data-checksum` so a browser test can tell that a drawing changed.
 * @param {Iterable<string | number>} items
 */
export function checksum(items) {
  let hash = 0x811c9dc5;
  for (const item of items) {
    const s = typeof item === "number" ? String(item) : item;
    for (let i = 0; i < s.length; i++) {
      hash ^= s.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193);
    }
    hash ^= 0x1f;
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}

/** Milliseconds since an arbitrary origin (performance.now where present). */
export function now() {
  return typeof performance !== "undefined" ? performance.now() : Date.now();
}

/**
 * Offer a blob as a download (the PNG save buttons).
 * @param {Document} doc
 * @param {Blob} blob
 * @param {string} name
 */
export function download(doc, blob, name) {
  if (typeof URL === "undefined" || !URL.createObjectURL) return;
  const url = URL.createObjectURL(blob);
  const a = h(doc, "a", { attrs: { href: url, download: name }, style: { display: "none" } });
  doc.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 2000);
}

/** The largest canvas side and area browsers draw (Chromium and Firefox: 32,767 px a side, 2^28 px in all). */
export const MAX_CANVAS_SIDE = 32767;
export const MAX_CANVAS_AREA = 2 ** 28;

/**
 * A 2-D context scaled for the device pixel ratio, or null where there is no canvas (jsdom/happy-dom).
 * @param {HTMLCanvasElement} canvas
 * @param {number} width CSS pixels
 * @param {number} height CSS pixels
 */
export function context2d(canvas, width, height) {
  const wanted = ((typeof devicePixelRatio === "number" && devicePixelRatio) || 1) * zoomOf(canvas);
  // browsers refuse (draw nothing on) a canvas over 32,767 px a side or 2^28 px in all: a tall head view at a high
  // pixel ratio or projector zoom gets fewer backing pixels instead of a blank picture
  const ratio = Math.max(Math.min(wanted, MAX_CANVAS_SIDE / Math.max(width, height, 1),
    Math.sqrt(MAX_CANVAS_AREA / Math.max(width * height, 1))), 0.01);
  canvas.width = Math.max(1, Math.round(width * ratio));
  canvas.height = Math.max(1, Math.round(height * ratio));
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  let ctx = null;
  try {
    ctx = canvas.getContext("2d");
  } catch {
    ctx = null;
  }
  if (ctx) ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return ctx;
}

/**
 * The projector-mode zoom of the view an element is in (the root's CSS zoom, 1 when none): canvases keep one backing
 * pixel per device pixel at that size, so text stays sharp on a projector.
 * @param {Element} el
 */
export function zoomOf(el) {
  const root = el.closest ? el.closest(".attnviz") : null;
  const z = root instanceof HTMLElement ? Number.parseFloat(root.style.zoom) : NaN;
  return Number.isFinite(z) && z > 0 ? z : 1;
}

/**
 * A pointer event's position on a canvas in the canvas's layout pixels (what context2d drew in), whatever the
 * canvas is displayed at: projector zoom, or shrunk by max-width.
 * @param {MouseEvent} ev
 * @param {HTMLCanvasElement} canvas
 */
export function canvasPoint(ev, canvas) {
  const rect = canvas.getBoundingClientRect();
  const w = Number.parseFloat(canvas.style.width) || rect.width || 1;
  const hgt = Number.parseFloat(canvas.style.height) || rect.height || 1;
  const sx = rect.width ? w / rect.width : 1;
  const sy = rect.height ? hgt / rect.height : 1;
  return { x: (ev.clientX - rect.left) * sx, y: (ev.clientY - rect.top) * sy };
}
