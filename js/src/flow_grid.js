// @ts-check
/**
 * FlowView's head panels, pure: the B x H head grid (coloured by the change between the models, or by the attention
 * to a query word) with its colour legend below, and the selected head's attention map for each model. `headGrid`
 * and `legendLayout` place the grid and the legend, `drawHeadGrid` paints both; `pairLayout`, `pairHit` and
 * `drawHeadMap` do the same for a head map. Hit-testing of the grid is layout.js gridHit. No DOM here, so each is
 * unit-tested alone (js/test/flow_grid.test.js).
 */
import { color, css, sig3 } from "./colormap.js";
import { short } from "./flow_draw.js";
import { cellOrigin, gridLayout } from "./layout.js";

/** The head grid's cells and margins (layout.js gridLayout options). */
export const HEAD_GRID = { cell: 22, gap: 2, left: 30, top: 16 };
/** The legend under the grid: its band's height, the colour bar's length and thickness. */
export const LEGEND = { h: 30, barW: 120, barH: 8 };

/**
 * @typedef {import("./layout.js").GridLayout} GridLayout
 * @typedef {{margin: number, cell: number, N: number, size: number, labelled: boolean}} PairLayout
 */

/** @param {number} B @param {number} H @returns {GridLayout} */
export function headGrid(B, H) {
  return gridLayout(B, H, HEAD_GRID);
}

/** The largest value (0 for none or all negative). @param {ArrayLike<number>} values */
export function maxOf(values) {
  let mx = 0;
  for (let k = 0; k < values.length; k++) mx = Math.max(mx, values[k]);
  return mx;
}

/** The colour of a grid cell: white for exactly 0 (identical attention), reds above it. @param {number} v @param {number} mx */
export function cellColour(v, mx) {
  return v === 0 ? "#ffffff" : css(color("reds", mx > 0 ? 0.08 + 0.92 * (v / mx) : 0));
}

/**
 * The canvas under the grid and its legend: a white swatch for 0 at (barX, barY), the colour bar from barX + 14,
 * barW px long; the canvas wide enough for the bar and its caption.
 * @param {GridLayout} G
 */
export function legendLayout(G) {
  return { width: Math.max(G.width, G.left + 14 + LEGEND.barW + 110), height: G.height + LEGEND.h,
    barX: G.left, barY: G.height + 4, barW: LEGEND.barW, barH: LEGEND.barH };
}

/**
 * Paint the legend (white = exactly 0, then reds up to the largest value, captioned with 0 and the maximum) and the
 * grid: head numbers on top, block numbers on the left, each cell in cellColour, the selected head framed in black.
 * @param {CanvasRenderingContext2D} ctx
 * @param {GridLayout} G
 * @param {{values: ArrayLike<number>, max: number, selected: number[], query: boolean}} spec values [B * H];
 *   selected: [block, head] or []; query: the grid shows a query's attention (no "white: identical" caption)
 */
export function drawHeadGrid(ctx, G, spec) {
  const { rows: B, cols: H } = G;
  const { max: mx, selected: sel } = spec;
  const { width, height, barX, barY, barW, barH } = legendLayout(G);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(barX, barY, 10, barH);
  ctx.strokeStyle = "#bbb";
  ctx.lineWidth = 1;
  ctx.strokeRect(barX + 0.5, barY + 0.5, 9, barH - 1);
  for (let x = 0; x < barW; x++) {
    ctx.fillStyle = cellColour((mx * (x + 1)) / barW, mx);
    ctx.fillRect(barX + 14 + x, barY, 1, barH);
  }
  ctx.fillStyle = "#333";
  ctx.font = "10px sans-serif";
  ctx.textAlign = "left";
  ctx.textBaseline = "top";
  ctx.fillText("0", barX + 2, barY + barH + 2);
  ctx.textAlign = "right";
  ctx.fillText(mx > 0 ? sig3(mx) : "0", barX + 14 + barW, barY + barH + 2);
  ctx.textAlign = "left";
  ctx.fillText(spec.query ? "" : "white: identical", barX + 20 + barW, barY);
  ctx.font = "10px sans-serif";
  ctx.fillStyle = "#333";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  for (let hd = 0; hd < H; hd++) ctx.fillText(String(hd), cellOrigin(G, 0, hd).x + G.cell / 2, 8);
  ctx.textAlign = "right";
  for (let l = 0; l < B; l++) ctx.fillText(String(l), G.left - 4, cellOrigin(G, l, 0).y + G.cell / 2);
  for (let l = 0; l < B; l++) {
    for (let hd = 0; hd < H; hd++) {
      const o = cellOrigin(G, l, hd);
      const on = sel.length === 2 && sel[0] === l && sel[1] === hd;
      ctx.fillStyle = cellColour(spec.values[l * H + hd], mx);
      ctx.fillRect(o.x, o.y, G.cell, G.cell);
      ctx.strokeStyle = on ? "#000" : "#ddd";
      ctx.lineWidth = on ? 2 : 1;
      ctx.strokeRect(o.x + 0.5, o.y + 0.5, G.cell - 1, G.cell - 1);
    }
  }
}

/**
 * A head map of N x N tokens: 120 to 240 px square; when a row is 6 px or more, a margin on the top and left for
 * the tokens (as wide as the longest, up to 12 characters), else none (the tokens are in the hover readout).
 * @param {number} N
 * @param {string[]} tokens
 * @returns {PairLayout}
 */
export function pairLayout(N, tokens) {
  const size = Math.min(240, Math.max(120, 2 * N));
  const cell = size / N;
  const labelled = cell >= 6;
  const margin = labelled ? Math.round(8 + 5.6 * Math.min(12, tokens.reduce((mx, t) => Math.max(mx, t.length), 1))) : 0;
  return { margin, cell, N, size, labelled };
}

/**
 * The (query i, key j) cell under a point of a head map, or null.
 * @param {PairLayout} P
 * @param {number} x
 * @param {number} y
 */
export function pairHit(P, x, y) {
  const i = Math.floor((y - P.margin) / P.cell);
  const j = Math.floor((x - P.margin) / P.cell);
  if (i < 0 || j < 0 || i >= P.N || j >= P.N) return null;
  return { i, j };
}

/**
 * Paint model m's head map: row = query, column = key, sqrt of the weight over the map's largest (blues for model a,
 * reds for model b); with room, the tokens on the left and, rotated, on top.
 * @param {CanvasRenderingContext2D} ctx
 * @param {PairLayout} P
 * @param {{maps: ArrayLike<number>, m: number, tokens: string[]}} spec maps: [M, N, N]
 */
export function drawHeadMap(ctx, P, spec) {
  const { margin, cell, N, size } = P;
  const { maps, m, tokens: toks } = spec;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, size + margin, size + margin);
  let mx = 0;
  for (let k = 0; k < N * N; k++) mx = Math.max(mx, maps[m * N * N + k]);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      const v = maps[(m * N + i) * N + j];
      ctx.fillStyle = css(color(m === 0 ? "blues" : "reds", mx > 0 ? Math.sqrt(v / mx) : 0));
      ctx.fillRect(margin + j * cell, margin + i * cell, Math.ceil(cell), Math.ceil(cell));
    }
  }
  if (P.labelled) {
    ctx.fillStyle = "#333";
    ctx.font = `${Math.min(10, Math.floor(cell))}px sans-serif`;
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    for (let i = 0; i < N; i++) ctx.fillText(short(toks[i] ?? "", 12), margin - 3, margin + (i + 0.5) * cell);
    ctx.save();
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "left";
    for (let j = 0; j < N; j++) ctx.fillText(short(toks[j] ?? "", 12), -margin + 3, margin + (j + 0.5) * cell);
    ctx.restore();
  }
}
