// @ts-check
/**
 * The attention view's model view, pure: the B x H grid of thumbnails (row = block, column = head), each a head's
 * attention pooled to t x t and tinted in the head's colour, optionally framed by a head-type score. `modelGrid`
 * places it, `poolThumbs` pools the maps, `thumbPixels` tints one, `drawModelGrid` paints everything on any 2-D
 * context, `decodeScore` and `modelReadout` serve the score overlay and the hover text; hit-testing is layout.js
 * gridHit. No DOM here, so each is unit-tested alone (js/test/model_grid.test.js).
 */
import { decodeFloat } from "./codec.js";
import { color, css, headColor, sig3 } from "./colormap.js";
import { cellOrigin, gridLayout, pool } from "./layout.js";

/** The model view's margins (layout.js gridLayout options): room for the axis titles and the numbers. */
export const GRID_MARGINS = { left: 48, top: 34 };
/** The model view's axes: one row per block, one column per head. */
export const AXIS_TITLES = ["head →", "block ↓"];
/** The grey of a decoder's empty upper triangle in the thumbnails (no head colour comes near it). */
export const EMPTY_GREY = 222;
/**
 * The head-type scores the model view can be coloured by (the `color_heads` trait; attnviz/engine/head_scores.py
 * SCORES, kept equal by tests/test_js_lists.py).
 */
export const HEAD_SCORES = ["previous_token", "duplicate_token", "induction"];

/**
 * @typedef {import("./layout.js").GridLayout} GridLayout
 * @typedef {{name: string, values: Float32Array, max: number}} HeadScore
 */

/** A score's name as people write it ("previous_token" -> "previous-token"). @param {string} name */
export function scoreLabel(name) {
  return name.replace("_", "-");
}

/** The colour-by picker's options: [value, text], plain heads first. @returns {[string, string][]} */
export function scoreOptions() {
  return [["", "heads: plain"], ...HEAD_SCORES.map((n) => /** @type {[string, string]} */ ([n, `${scoreLabel(n)} score`]))];
}

/**
 * The grid of B blocks x H heads: 56 px cells, 44 px past 12 heads.
 * @param {number} B
 * @param {number} H
 * @returns {GridLayout}
 */
export function modelGrid(B, H) {
  return gridLayout(B, H, { cell: H > 12 ? 44 : 56, ...GRID_MARGINS });
}

/**
 * Every head's thumbnail, scaled to its own maximum then square-rooted (faint structure stays visible next to a
 * strong diagonal): from the kernel's pooled float16 [B, H, t, t] when given, else pooled here to t = min(N, cell)
 * from each block's float16 [H, N, N] bits (a block not there yet: all zero).
 * @param {{B: number, H: number, N: number, cell: number, table: Float32Array,
 *   pooled?: {bits: Uint16Array, shape: number[], scale: number} | null,
 *   block?: (l: number) => Uint16Array | null}} src
 * @returns {{thumbs: Float32Array[], t: number, sums: number[]}} thumbs[l * H + h] row-major t x t; sums[k]: the sum
 *   of round(255 * value) of thumbnail k (for data-checksum)
 */
export function poolThumbs(src) {
  const { B, H, N, table, pooled } = src;
  /** @type {Float32Array[]} */
  const thumbs = [];
  /** @type {number[]} */
  const sums = [];
  const t = pooled ? pooled.shape[2] : Math.min(N, src.cell);
  for (let l = 0; l < B; l++) {
    const bits = pooled ? null : (src.block?.(l) ?? null);
    for (let hd = 0; hd < H; hd++) {
      let p;
      if (pooled) {
        p = new Float32Array(t * t);
        const o = (l * H + hd) * t * t;
        for (let k = 0; k < t * t; k++) p[k] = table[pooled.bits[o + k]] * pooled.scale;
      } else p = bits ? pool(bits, hd * N * N, N, t, table) : new Float32Array(t * t);
      let mx = 0;
      for (let k = 0; k < p.length; k++) mx = Math.max(mx, p[k]);
      let c = 0;
      for (let k = 0; k < p.length; k++) {
        p[k] = mx > 0 ? Math.sqrt(p[k] / mx) : 0;
        c += Math.round(p[k] * 255);
      }
      thumbs.push(p);
      sums.push(c);
    }
  }
  return { thumbs, t, sums };
}

/**
 * RGBA pixels of one thumbnail: white (0) to the head colour (1); with `causal`, the upper triangle (key after query:
 * a decoder's future) is EMPTY_GREY, not zero weight.
 * @param {Float32Array} p t x t values in [0, 1]
 * @param {number} t
 * @param {import("./colormap.js").RGB} rgb
 * @param {boolean} causal
 */
export function thumbPixels(p, t, rgb, causal) {
  const px = new Uint8ClampedArray(t * t * 4);
  for (let k = 0; k < p.length; k++) {
    if (causal && k % t > Math.floor(k / t)) {
      px[4 * k] = px[4 * k + 1] = px[4 * k + 2] = EMPTY_GREY;
      px[4 * k + 3] = 255;
      continue;
    }
    const v = p[k];
    px[4 * k] = 255 + (rgb[0] - 255) * v;
    px[4 * k + 1] = 255 + (rgb[1] - 255) * v;
    px[4 * k + 2] = 255 + (rgb[2] - 255) * v;
    px[4 * k + 3] = 255;
  }
  return px;
}

/**
 * The head-type score named `name` from the `head_scores` trait ({name: float [B, H]}), with its largest value, or
 * null (no name, or no such score).
 * @param {string} name
 * @param {Record<string, any>} headScores
 * @returns {HeadScore | null}
 */
export function decodeScore(name, headScores) {
  const raw = headScores[name];
  if (!name || !raw || !raw.shape || raw.shape.length !== 2) return null;
  const values = decodeFloat(raw).data;
  let max = 0;
  for (let k = 0; k < values.length; k++) max = Math.max(max, values[k]);
  return { name, values, max };
}

/**
 * Paint the model view: head numbers on top, block names on the left, the axis titles; each thumbnail drawn through
 * `tile` (a t x t canvas and its context; switched-off heads at alpha 0.25), framed black (the block shown in the
 * head view) or light grey; with a score, a second frame in reds (darker = higher) and the value in the corner.
 * @param {CanvasRenderingContext2D} ctx
 * @param {GridLayout} G
 * @param {{thumbs: Float32Array[], t: number, layer: number, mask: boolean[][], blockNames: (string | number)[],
 *   causal: boolean, score: HeadScore | null}} spec
 * @param {{canvas: CanvasImageSource, ctx: CanvasRenderingContext2D | null}} tile
 */
export function drawModelGrid(ctx, G, spec, tile) {
  const { rows: B, cols: H } = G;
  const { t, score } = spec;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, G.width, G.height);
  ctx.fillStyle = "#333";
  ctx.font = "11px sans-serif";
  ctx.textBaseline = "middle";
  ctx.textAlign = "center";
  for (let hd = 0; hd < H; hd++) ctx.fillText(String(hd), cellOrigin(G, 0, hd).x + G.cell / 2, G.top - 9);
  ctx.textAlign = "right";
  for (let l = 0; l < B; l++) ctx.fillText(String(spec.blockNames[l]), G.left - 6, cellOrigin(G, l, 0).y + G.cell / 2);
  ctx.font = "bold 11px sans-serif";
  ctx.textAlign = "left";
  ctx.fillText(AXIS_TITLES[0], G.left, 8);
  ctx.fillText(AXIS_TITLES[1], 2, G.top - 9);
  ctx.font = "11px sans-serif";
  for (let l = 0; l < B; l++) {
    for (let hd = 0; hd < H; hd++) {
      const px = thumbPixels(spec.thumbs[l * H + hd], t, headColor(hd), spec.causal);
      const o = cellOrigin(G, l, hd);
      ctx.globalAlpha = spec.mask[l]?.[hd] ? 1 : 0.25;
      if (tile.ctx) {
        tile.ctx.putImageData(new ImageData(px, t, t), 0, 0);
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(tile.canvas, o.x, o.y, G.cell, G.cell);
      }
      ctx.globalAlpha = 1;
      ctx.strokeStyle = l === spec.layer ? "#000" : "#ccc";
      ctx.lineWidth = l === spec.layer ? 1.5 : 1;
      ctx.strokeRect(o.x + 0.5, o.y + 0.5, G.cell - 1, G.cell - 1);
      if (score) {
        const v = score.values[l * H + hd];
        ctx.strokeStyle = css(color("reds", score.max > 0 ? v / score.max : 0));
        ctx.lineWidth = 4;
        ctx.strokeRect(o.x + 2, o.y + 2, G.cell - 4, G.cell - 4);
        ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
        ctx.fillRect(o.x + 3, o.y + G.cell - 15, 28, 12);
        ctx.fillStyle = "#111";
        ctx.font = "10px sans-serif";
        ctx.textAlign = "left";
        ctx.textBaseline = "middle";
        ctx.fillText(v.toFixed(2), o.x + 4, o.y + G.cell - 9);
      }
    }
  }
}

/**
 * The hover text of a cell (" " off the cells).
 * @param {{row: number, col: number} | null} hit
 * @param {HeadScore | null} score
 * @param {number} H
 * @param {string | number} block the hit block's name
 */
export function modelReadout(hit, score, H, block) {
  if (!hit) return " ";
  const extra = score ? `, ${scoreLabel(score.name)} score ${sig3(score.values[hit.row * H + hit.col])}` : "";
  return `block ${block}, head ${hit.col}${extra} (click to open)`;
}
