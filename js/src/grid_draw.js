// @ts-check
/**
 * Pure layout and drawing of a labelled grid of numbers (the logit lens, direct attribution and patching grids):
 * `gridPlan` places rows, columns and their labels; `cellAt` hit-tests a point; `gridRange` picks the colour range;
 * `drawGrid` paints on any 2-D context. No DOM here, so each is unit-tested alone.
 */
import { color, css, textColor, unit } from "./colormap.js";

/**
 * @typedef {{rows: number, cols: number, cellW: number, cellH: number, left: number, top: number, width: number,
 *   height: number}} GridPlan
 * @typedef {import("./colormap.js").Range} Range
 */

/** Widest and narrowest column; the grid scrolls sideways beyond the output's width. */
export const CELL = { minW: 30, maxW: 64, h: 22, labelH: 86, labelW: 56 };

/**
 * Where everything goes: columns wide enough for the text drawn in cells (when there is any), a band on top for
 * the column labels (drawn rotated) and one on the left for the row labels.
 * @param {number} rows
 * @param {number} cols
 * @param {{cellText?: boolean, rowLabelW?: number}} [opts]
 * @returns {GridPlan}
 */
export function gridPlan(rows, cols, opts = {}) {
  const cellW = opts.cellText ? CELL.maxW : Math.max(CELL.minW, Math.min(CELL.maxW, Math.floor(720 / Math.max(cols, 1))));
  const left = opts.rowLabelW ?? CELL.labelW;
  const top = CELL.labelH;
  return { rows, cols, cellW, cellH: CELL.h, left, top, width: left + cols * cellW + 2, height: top + rows * CELL.h + 2 };
}

/**
 * The cell under a point, or null outside the cells.
 * @param {GridPlan} P
 * @param {number} x
 * @param {number} y
 * @returns {{row: number, col: number} | null}
 */
export function cellAt(P, x, y) {
  const col = Math.floor((x - P.left) / P.cellW);
  const row = Math.floor((y - P.top) / P.cellH);
  if (row < 0 || col < 0 || row >= P.rows || col >= P.cols) return null;
  return { row, col };
}

/**
 * The colour range: a fixed one (probabilities: 0 to 1), symmetric around 0 for signed values (0 stays white), or
 * the finite values' min to max. A grid of one value gets a non-empty range.
 * @param {ArrayLike<number>} values
 * @param {boolean} signed
 * @param {number[]} [fixed] [lo, hi]
 * @returns {Range}
 */
export function gridRange(values, signed, fixed) {
  if (fixed && fixed.length === 2) return { lo: fixed[0], hi: fixed[1], signed, mode: "" };
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (lo > hi) return { lo: signed ? -1 : 0, hi: 1, signed, mode: "" };
  if (signed) {
    const m = Math.max(Math.abs(lo), Math.abs(hi)) || 1;
    return { lo: -m, hi: m, signed, mode: "" };
  }
  return lo === hi ? { lo: lo - 1, hi: hi + 1, signed, mode: "" } : { lo, hi, signed, mode: "" };
}

/**
 * Cut a label to fit `max` characters, with an ellipsis (the full text goes to the hover readout).
 * @param {string} text
 * @param {number} max
 */
export function fitLabel(text, max) {
  const s = String(text ?? "");
  return s.length <= max ? s : `${s.slice(0, Math.max(1, max - 1))}…`;
}

/**
 * Paint the grid.
 * @param {CanvasRenderingContext2D} ctx
 * @param {GridPlan} P
 * @param {{values: ArrayLike<number>, range: Range, cmap: string, rowLabels: string[], colLabels: string[],
 *   cellText?: string[][], markedCol?: number, markedCells?: number[][], fadedFrom?: number,
 *   hover?: {row: number, col: number} | null}} spec fadedFrom: rows from this index on are drawn faded
 *   (the block slider: "through block l"); hover: the cell under the pointer, outlined
 */
export function drawGrid(ctx, P, spec) {
  ctx.clearRect(0, 0, P.width, P.height);
  ctx.font = "11px sans-serif";
  ctx.textBaseline = "middle";
  const faded = spec.fadedFrom ?? P.rows;
  for (let r = 0; r < P.rows; r++) {
    for (let c = 0; c < P.cols; c++) {
      const v = spec.values[r * P.cols + c];
      const x = P.left + c * P.cellW;
      const y = P.top + r * P.cellH;
      const rgb = Number.isFinite(v) ? color(spec.cmap, unit(spec.range, v)) : /** @type {[number, number, number]} */ ([220, 220, 220]);
      ctx.globalAlpha = r >= faded ? 0.15 : 1;
      ctx.fillStyle = css(rgb);
      ctx.fillRect(x, y, P.cellW - 1, P.cellH - 1);
      const text = spec.cellText?.[r]?.[c];
      if (text && r < faded) {
        ctx.fillStyle = textColor(rgb);
        ctx.textAlign = "center";
        ctx.fillText(fitLabel(text.replace(/\n/g, "⏎"), Math.floor(P.cellW / 6.5)), x + P.cellW / 2, y + P.cellH / 2);
      }
    }
  }
  ctx.globalAlpha = 1;
  ctx.fillStyle = "#444";
  ctx.textAlign = "right";
  for (let r = 0; r < P.rows; r++) ctx.fillText(fitLabel(spec.rowLabels[r] ?? "", 8), P.left - 4, P.top + r * P.cellH + P.cellH / 2);
  ctx.textAlign = "left";
  for (let c = 0; c < P.cols; c++) {
    ctx.save();
    ctx.translate(P.left + c * P.cellW + P.cellW / 2, P.top - 4);
    ctx.rotate(-Math.PI / 3);
    ctx.fillStyle = c === spec.markedCol ? "#000" : "#444";
    ctx.fillText(fitLabel(spec.colLabels[c] ?? "", 14), 0, 0);
    ctx.restore();
  }
  ctx.lineWidth = 2;
  if (spec.markedCol !== undefined && spec.markedCol >= 0 && spec.markedCol < P.cols) {
    ctx.strokeStyle = "#111";
    ctx.strokeRect(P.left + spec.markedCol * P.cellW, P.top, P.cellW - 1, P.rows * P.cellH - 1);
  }
  for (const [r, c] of spec.markedCells ?? []) {
    ctx.strokeStyle = "#e6a100";
    ctx.strokeRect(P.left + c * P.cellW + 1, P.top + r * P.cellH + 1, P.cellW - 3, P.cellH - 3);
  }
  if (spec.hover) {
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1;
    ctx.strokeRect(P.left + spec.hover.col * P.cellW + 0.5, P.top + spec.hover.row * P.cellH + 0.5, P.cellW - 2, P.cellH - 2);
  }
}
