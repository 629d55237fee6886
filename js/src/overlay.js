// @ts-check
/**
 * A patch-relevance overlay on an image, shared by ImageView and CompareView: the image as the model saw it, the
 * [gh, gw] grid normalised, bilinearly upsampled to the drawn size, coloured and laid over with an opacity.
 */
import { decodeBytes } from "./codec.js";
import { LUT_SIZE, lut, unit } from "./colormap.js";
import { checksum, context2d } from "./dom.js";
import { bilinear } from "./layout.js";

/** @typedef {import("./colormap.js").Range} Range */

/**
 * The drawn size of an image of [h, w] whose longer side is `size` px.
 * @param {number[]} shape [h, w, 3]
 * @param {number} size
 */
export function fit(shape, size) {
  const [ih, iw] = shape;
  const s = size / Math.max(ih, iw, 1);
  return { w: Math.max(1, Math.round(iw * s)), h: Math.max(1, Math.round(ih * s)) };
}

/**
 * RGBA pixels of the overlay: grid -> [0, 1] over `range` -> bilinear to w x h -> colormap.
 * @param {ArrayLike<number>} grid [gh * gw]
 * @param {number} gh
 * @param {number} gw
 * @param {number} w
 * @param {number} h
 * @param {string} cmap
 * @param {Range} range
 */
export function overlayPixels(grid, gh, gw, w, h, cmap, range) {
  const norm = new Float32Array(gh * gw);
  for (let k = 0; k < norm.length; k++) norm[k] = unit(range, grid[k]);
  const up = bilinear(norm, gh, gw, h, w);
  const table = lut(cmap);
  const px = new Uint8ClampedArray(w * h * 4);
  for (let k = 0; k < up.length; k++) {
    const i = Math.max(0, Math.min(LUT_SIZE - 1, Math.round(up[k] * (LUT_SIZE - 1))));
    px[4 * k] = table[3 * i];
    px[4 * k + 1] = table[3 * i + 1];
    px[4 * k + 2] = table[3 * i + 2];
    px[4 * k + 3] = 255;
  }
  return px;
}

/**
 * A checksum of what an overlay shows (the normalised grid quantised to 8 bits, map, opacity).
 * @param {ArrayLike<number>} grid
 * @param {Range} range
 * @param {string} cmap
 * @param {number} opacity
 * @param {(string | number)[]} extra
 */
export function overlayChecksum(grid, range, cmap, opacity, extra) {
  const q = Array.from(grid, (v) => Math.round(unit(range, v) * 255));
  return checksum([cmap, opacity.toFixed(3), ...extra, ...q]);
}

/**
 * Paint an image and its overlay on a canvas (resized to w x h). Returns false where there is no 2-D context.
 * @param {HTMLCanvasElement} canvas
 * @param {{image: import("./codec.js").Encoded | null, w: number, h: number, overlay: Uint8ClampedArray<ArrayBuffer> | null,
 *   opacity: number, mark?: {r: number, c: number, gh: number, gw: number} | null}} spec
 */
export function paintOverlay(canvas, spec) {
  const ctx = context2d(canvas, spec.w, spec.h);
  if (!ctx) return false;
  const doc = canvas.ownerDocument;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, spec.w, spec.h);
  if (spec.image && spec.image.shape && spec.image.shape.length === 3) {
    const img = decodeBytes(spec.image);
    const [ih, iw] = img.shape;
    const rgba = new Uint8ClampedArray(ih * iw * 4);
    for (let k = 0; k < ih * iw; k++) {
      rgba[4 * k] = img.data[3 * k];
      rgba[4 * k + 1] = img.data[3 * k + 1];
      rgba[4 * k + 2] = img.data[3 * k + 2];
      rgba[4 * k + 3] = 255;
    }
    const base = doc.createElement("canvas");
    base.width = iw;
    base.height = ih;
    const bctx = base.getContext("2d");
    if (bctx) {
      bctx.putImageData(new ImageData(rgba, iw, ih), 0, 0);
      ctx.imageSmoothingEnabled = true;
      ctx.drawImage(base, 0, 0, spec.w, spec.h);
    }
  }
  if (spec.overlay) {
    const layer = doc.createElement("canvas");
    layer.width = spec.w;
    layer.height = spec.h;
    const lctx = layer.getContext("2d");
    if (lctx) {
      lctx.putImageData(new ImageData(spec.overlay, spec.w, spec.h), 0, 0);
      ctx.globalAlpha = spec.opacity;
      ctx.drawImage(layer, 0, 0, spec.w, spec.h);
      ctx.globalAlpha = 1;
    }
  }
  if (spec.mark) {
    const { r, c, gh, gw } = spec.mark;
    const pw = spec.w / gw;
    const ph = spec.h / gh;
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#00e5ff";
    ctx.strokeRect(c * pw + 1, r * ph + 1, pw - 2, ph - 2);
  }
  return true;
}
