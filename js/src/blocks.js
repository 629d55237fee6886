// @ts-check
/**
 * The attention blocks AttentionView has in the browser. The kernel's first message holds the block shown and its
 * neighbours (`attention` [b, H, N, N] with `attention_blocks` naming them; every block when small, and always in
 * the offline page); the others arrive on demand: `request(layers)` sends {event: "attention_blocks", layers} and
 * each answer {event: "attention_block", layer, shape} carries one float16 [1, H, N, N] buffer. Bits stay
 * undecoded (head_lines.js reads them).
 */
import { halfBits } from "./codec.js";

/** Blocks on either side of the one shown that are asked for ahead of the slider. */
export const PREFETCH = 2;

/**
 * @param {import("./model.js").Model} model
 * @param {import("./dom.js").Disposer} d
 * @param {(layer: number) => void} onArrive called when a requested block arrives
 */
export function blockStore(model, d, onArrive) {
  /** @type {Map<number, Uint16Array>} */
  const blocks = new Map();
  /** @type {Set<number>} */
  const asked = new Set();
  /** @type {unknown} */
  let seen = null;
  let scale = 1;

  /** [B, H, N, N] of the whole tensor (from attention_shape, else the tensor itself). */
  function shape() {
    const s = model.get("attention_shape");
    if (Array.isArray(s) && s.length === 4) return s.map(Number);
    const raw = model.get("attention");
    return raw && raw.shape && raw.shape.length === 4 ? raw.shape.map(Number) : null;
  }

  function ingest() {
    const raw = model.get("attention");
    if (raw === seen) return;
    seen = raw;
    blocks.clear();
    asked.clear();
    if (!raw || !raw.shape || raw.shape.length !== 4) return;
    const half = halfBits(raw);
    scale = half.scale;
    const [b, H, N] = half.shape;
    const names = /** @type {number[] | undefined} */ (model.get("attention_blocks"));
    const per = H * N * N;
    for (let k = 0; k < b; k++) blocks.set(names && names.length === b ? Number(names[k]) : k, half.bits.subarray(k * per, (k + 1) * per));
  }

  /**
   * @param {any} content
   * @param {DataView[] | ArrayBuffer[]} [buffers]
   */
  function onMessage(content, buffers) {
    if (!content || content.event !== "attention_block" || !buffers || !buffers.length) return;
    const s = shape();
    if (!s) return;
    const half = halfBits({ dtype: "float16", shape: content.shape, buffer: buffers[0], scale: 1 });
    if (half.bits.length !== s[1] * s[2] * s[3]) return;
    const layer = Number(content.layer);
    blocks.set(layer, half.bits);
    onArrive(layer);
  }
  d.on(model, "msg:custom", onMessage);

  return {
    shape,
    get scale() { ingest(); return scale; },
    /** @param {number} layer */
    get(layer) {
      ingest();
      return blocks.get(layer) ?? null;
    },
    /** @param {number} layer */
    has(layer) {
      ingest();
      return blocks.has(layer);
    },
    /** How many blocks are here. */
    get loaded() { ingest(); return blocks.size; },
    /**
     * Ask the kernel for the missing ones of `layer` and its PREFETCH neighbours (once each).
     * @param {number} layer
     * @param {boolean} kernel whether a kernel answers
     */
    want(layer, kernel) {
      ingest();
      const s = shape();
      if (!s || !kernel) return;
      /** @type {number[]} */
      const missing = [];
      for (const l of [layer, ...Array.from({ length: PREFETCH }, (_, k) => [layer + k + 1, layer - k - 1]).flat()]) {
        if (l >= 0 && l < s[0] && !blocks.has(l) && !asked.has(l)) missing.push(l);
      }
      if (!missing.length) return;
      for (const l of missing) asked.add(l);
      model.send({ event: "attention_blocks", layers: missing });
    },
  };
}
