// A stand-in for anywidget's model (get/set/on/off/save_changes/send) and small fixtures.
import { encodeHalf } from "../src/codec.js";

export function fakeModel(state) {
  const handlers = new Map();
  const model = {
    state, sent: [], saves: 0,
    get: (k) => state[k],
    set: (k, v) => { const old = state[k]; state[k] = v; if (old !== v) for (const fn of [...(handlers.get(`change:${k}`) ?? [])]) fn(); },
    on: (e, fn) => handlers.set(e, [...(handlers.get(e) ?? []), fn]),
    off: (e, fn) => handlers.set(e, (handlers.get(e) ?? []).filter((f) => f !== fn)),
    save_changes: () => { model.saves += 1; },
    send: (content, callbacks, buffers) => model.sent.push({ content, buffers }),
    emit: (e, ...args) => { for (const fn of [...(handlers.get(e) ?? [])]) fn(...args); },
    listenerCount: () => [...handlers.values()].reduce((a, l) => a + l.length, 0),
  };
  return model;
}

/** Kernel push: set several traits as one message would (values first, then change events). */
export function push(model, values) {
  for (const [k, v] of Object.entries(values)) model.set(k, v);
}

export function mulberry(seed) {
  return () => {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random row-stochastic attention [B, H, N, N] as float16 bytes, and its float values. */
export function attention(B, H, N, seed = 1) {
  const rnd = mulberry(seed);
  const values = new Float32Array(B * H * N * N);
  for (let r = 0; r < B * H * N; r++) {
    let s = 0;
    for (let j = 0; j < N; j++) { const v = rnd() ** 4; values[r * N + j] = v; s += v; }
    for (let j = 0; j < N; j++) values[r * N + j] /= s;
  }
  return { enc: encodeHalf(values, [B, H, N, N]), values };
}

export function maps(B, U, seed = 2, signed = false) {
  const rnd = mulberry(seed);
  const v = Array.from({ length: B * U }, () => (signed ? rnd() * 2 - 1 : rnd()));
  return encodeHalf(v, [B, U]);
}

export const XSS = "<img src=x onerror=alert(1)>";

export function textState(over = {}) {
  const units = ["[CLS]", "the", "movie", XSS, "[SEP]", "a", "mess", "[SEP]"];
  return {
    units, unit_segments: [0, 0, 0, 0, 0, 1, 1, 1], unit_special: [true, false, false, false, true, false, false, true],
    tokens: units, maps: maps(2, units.length), signed: false, method: "gae", available_methods: ["gae", "rollout", "attcat"],
    method_info: { gae: { description: "gae <b>desc</b>", signed: false }, rollout: { description: "r" }, attcat: { description: "a", signed: true } },
    target: 0, label_names: ["neg", XSS], probs: encodeHalf([0.25, 0.75], [2]), predicted: 1, layer: 1,
    heads: [[true, true], [true, true]], uses_heads: true, word_level: false, ignore_special: true, colormap: "auto",
    error: "", revision: 0, ...over,
  };
}

/** Every focusable element must carry data-lm-suppress-shortcuts itself. */
export function unsuppressed(root) {
  return [...root.querySelectorAll("button, input, select, textarea, [tabindex], a[href]")]
    .filter((e) => e.getAttribute("data-lm-suppress-shortcuts") !== "true");
}

/** Count addEventListener/removeEventListener balance on every EventTarget while fn runs. */
export function trackListeners(vi) {
  let active = 0;
  // happy-dom's elements inherit from its own EventTarget, not globalThis.EventTarget: find the owner
  let proto = Object.getPrototypeOf(document.createElement("div"));
  while (!Object.prototype.hasOwnProperty.call(proto, "addEventListener")) proto = Object.getPrototypeOf(proto);
  const add = proto.addEventListener;
  const remove = proto.removeEventListener;
  const a = vi.spyOn(proto, "addEventListener").mockImplementation(function (...args) { active += 1; return add.apply(this, args); });
  const r = vi.spyOn(proto, "removeEventListener").mockImplementation(function (...args) { active -= 1; return remove.apply(this, args); });
  return { get active() { return active; }, restore: () => { a.mockRestore(); r.mockRestore(); } };
}

/** A recording 2-D context (happy-dom has no canvas): counts calls, keeps fillText strings. */
export function recordingCanvas(vi) {
  const calls = { stroke: 0, lineTo: 0, fillText: [], putImageData: 0, drawImage: 0 };
  const ctx = new Proxy({}, {
    get(target, prop) {
      if (prop in target) return target[prop];
      if (prop === "measureText") return (s) => ({ width: 7 * String(s).length });
      return (...args) => {
        if (prop === "fillText") calls.fillText.push(args[0]);
        else if (prop in calls) calls[prop] += 1;
      };
    },
    set(target, prop, value) { target[prop] = value; return true; },
  });
  if (typeof globalThis.ImageData === "undefined") {
    globalThis.ImageData = class { constructor(data, w, h) { this.data = data; this.width = w; this.height = h; } };
  }
  const spy = vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockImplementation(() => ctx);
  return { calls, restore: () => spy.mockRestore() };
}

/**
 * A recording 2-D context for the pure drawing modules (head_draw, model_grid, flow_draw, flow_grid): every method
 * call in order, each with its arguments and the drawing state at that moment (fillStyle, strokeStyle, globalAlpha,
 * lineWidth, font, textAlign, textBaseline). save/restore keep and bring back that state, as a canvas does.
 */
export function recordingContext() {
  const ops = [];
  const state = { fillStyle: "#000000", strokeStyle: "#000000", globalAlpha: 1, lineWidth: 1, font: "10px sans-serif",
    textAlign: "start", textBaseline: "alphabetic" };
  const stack = [];
  const snapshot = () => ({ fillStyle: state.fillStyle, strokeStyle: state.strokeStyle, globalAlpha: state.globalAlpha,
    lineWidth: state.lineWidth, font: state.font, textAlign: state.textAlign, textBaseline: state.textBaseline });
  const ctx = new Proxy(state, {
    get(target, prop) {
      if (prop in target) return target[prop];
      if (prop === "measureText") return (s) => ({ width: 7 * String(s).length });
      return (...args) => {
        ops.push({ op: String(prop), args, ...snapshot() });
        if (prop === "save") stack.push(snapshot());
        if (prop === "restore" && stack.length) Object.assign(state, stack.pop());
      };
    },
    set(target, prop, value) { target[prop] = value; return true; },
  });
  const of = (op) => ops.filter((o) => o.op === op);
  return { ctx, ops, of, texts: () => of("fillText").map((o) => o.args[0]) };
}

/**
 * The paths a recorded drawing stroked, as a canvas paints them: the moveTo/lineTo segments since the last
 * beginPath, in the stroke style, alpha and width current at stroke().
 * @returns {{strokeStyle: string, globalAlpha: number, lineWidth: number, segments: number[][]}[]}
 */
export function strokedPaths(ops) {
  const out = [];
  let segments = [];
  let at = null;
  for (const o of ops) {
    if (o.op === "beginPath") segments = [];
    else if (o.op === "moveTo") at = o.args;
    else if (o.op === "lineTo") { segments.push([...at, ...o.args]); at = o.args; }
    else if (o.op === "stroke") out.push({ strokeStyle: o.strokeStyle, globalAlpha: o.globalAlpha, lineWidth: o.lineWidth, segments });
  }
  return out;
}

/** A fake ImageData where the test environment has none (happy-dom). */
export function ensureImageData() {
  if (typeof globalThis.ImageData === "undefined") {
    globalThis.ImageData = class { constructor(data, w, h) { this.data = data; this.width = w; this.height = h; } };
  }
}
