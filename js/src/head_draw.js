// @ts-check
/**
 * The head view's drawing, pure: `drawHeadView` paints a plan of head_lines.js (one path per head and alpha level),
 * the hovered token's highlight, the two token columns and their titles on any 2-D context; `headNote` and
 * `blankNote` are the text under the canvas; `planSum` the items of the drawing's checksum; `stepFocus` the arrow
 * keys' move. No DOM here, so each is unit-tested alone (js/test/head_draw.test.js).
 */
import { css, headColor } from "./colormap.js";
import { LEVELS, weightLabel } from "./head_lines.js";
import { rowY } from "./layout.js";

/** What the two token columns of the head view are: each line goes from a query token to a key token. */
export const COLUMN_TITLES = ["attends from (query)", "to (key)"];
/** The colour of the hovered (or searched) token's row. */
export const FOCUS_FILL = "rgba(255, 214, 0, 0.5)";
/** Rows at least this many px tall carry their token as text; thinner ones get a grey bar per column. */
export const MIN_LABEL_ROW = 7;

/**
 * @typedef {import("./head_lines.js").Focus} Focus
 * @typedef {import("./head_lines.js").HeadLines} HeadLines
 * @typedef {import("./layout.js").HeadLayout} HeadLayout
 */

/**
 * A short label for a canvas (canvas text is not HTML, but long tokens would overlap the lines).
 * @param {string} t
 */
export function shortToken(t) {
  return t.length > 14 ? `${t.slice(0, 13)}…` : t;
}

/**
 * A white canvas (a block still loading, or the background of a drawing).
 * @param {CanvasRenderingContext2D} ctx
 * @param {HeadLayout} L
 */
export function clearHead(ctx, L) {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, L.width, L.height);
}

/**
 * Paint the head view: the lines of each head in its colour, weight level k (0-based) at alpha (k + 1) / LEVELS, from
 * query row i at x = L.xLeft to key row j at x = L.xRight; then the focused token's row; then the tokens (or, rows
 * under MIN_LABEL_ROW px, a grey bar per column) and the column titles.
 * @param {CanvasRenderingContext2D} ctx
 * @param {HeadLayout} L
 * @param {{heads: HeadLines[], tokens: string[], focus: Focus, lineWidth: number}} spec lineWidth: the lines' width
 *   in CSS px (one device pixel: Skia's fast path for thin lines; 1.5 px lines rasterise ~10x slower in software)
 */
export function drawHeadView(ctx, L, spec) {
  const { focus, tokens } = spec;
  clearHead(ctx, L);
  ctx.lineWidth = spec.lineWidth;
  for (const { head, levels } of spec.heads) {
    const rgb = headColor(head);
    levels.forEach((pairs, k) => {
      if (!pairs.length) return;
      ctx.strokeStyle = css(rgb, (k + 1) / LEVELS);
      ctx.beginPath();
      for (let p = 0; p < pairs.length; p += 2) {
        ctx.moveTo(L.xLeft, rowY(L, pairs[p]));
        ctx.lineTo(L.xRight, rowY(L, pairs[p + 1]));
      }
      ctx.stroke();
    });
  }
  if (focus) {
    ctx.fillStyle = FOCUS_FILL;
    const x = focus.side === "left" ? 0 : L.xRight;
    ctx.fillRect(x, L.top + focus.index * L.rowH, L.labelW + 6, L.rowH);
  }
  if (L.rowH >= MIN_LABEL_ROW) {
    ctx.fillStyle = "#222";
    ctx.font = `${Math.min(12, L.rowH - 1)}px sans-serif`;
    ctx.textBaseline = "middle";
    for (let i = 0; i < L.n; i++) {
      const y = rowY(L, i);
      ctx.textAlign = "right";
      ctx.fillText(shortToken(tokens[i] ?? ""), L.xLeft - 4, y);
      ctx.textAlign = "left";
      ctx.fillText(shortToken(tokens[i] ?? ""), L.xRight + 4, y);
    }
  } else {
    ctx.fillStyle = "#ddd";
    ctx.fillRect(L.xLeft - 3, L.top, 2, L.n * L.rowH);
    ctx.fillRect(L.xRight + 1, L.top, 2, L.n * L.rowH);
  }
  ctx.fillStyle = "#555";
  ctx.font = "bold 11px sans-serif";
  ctx.textBaseline = "middle";
  ctx.textAlign = "left";  // the query title is wider than the label column: start it at the left edge
  ctx.fillText(COLUMN_TITLES[0], 2, L.top / 2);
  ctx.fillText(COLUMN_TITLES[1], L.xRight + 4, L.top / 2);
}

/**
 * Why nothing is drawn (no line and no token hovered): every head switched off, or no weight reaching the threshold.
 * @param {boolean[]} kept
 * @param {number} threshold
 * @param {string | number} block the block's name
 * @param {number} strongest the largest weight of the kept heads
 */
export function blankNote(kept, threshold, block, strongest) {
  const headsOn = kept.filter(Boolean).length;
  return kept.some(Boolean)
    ? `no line drawn: no weight of the ${headsOn} heads shown reaches the threshold ${threshold} `
      + `in block ${block} (the largest is ${weightLabel(strongest)}). Lower it: AttentionView(e, threshold=...)`
    : "no line drawn: every head of this block is switched off (click a head swatch to show it)";
}

/**
 * What a drawing leaves out (lines outside the coverage, lines past the budget), or "" when it draws them all.
 * @param {{count: number, hidden: number, uncovered: number}} plan
 * @param {Focus} focus
 * @param {number} threshold
 * @param {number} coverage
 */
export function headNote(plan, focus, threshold, coverage) {
  /** @type {string[]} */
  const notes = [];
  if (plan.uncovered && !focus) {
    notes.push(`each query's strongest lines holding ${Math.round(coverage * 100)}% of its attention per head `
      + `(${plan.uncovered.toLocaleString("en")} weaker lines above the threshold ${threshold} not drawn: `
      + "AttentionView(e, coverage=1) draws them)");
  }
  if (plan.hidden) {
    notes.push(`the strongest ${plan.count.toLocaleString("en")} of ${(plan.count + plan.hidden).toLocaleString("en")} lines `
      + "(line budget)");
  }
  return notes.length ? `showing ${notes.join("; ")}; hover a token to see all of its lines` : "";
}

/**
 * Per head and level: head, level, number of pair entries, and a hash of the pairs (for data-checksum).
 * @param {HeadLines[]} heads
 * @param {number} N tokens
 * @returns {number[]}
 */
export function planSum(heads, N) {
  /** @type {number[]} */
  const sum = [];
  for (const { head, levels } of heads) {
    levels.forEach((pairs, k) => {
      let c = 0;
      for (let p = 0; p < pairs.length; p += 2) c = (c * 31 + pairs[p] * N + pairs[p + 1]) % 2147483647;
      sum.push(head, k, pairs.length, c);
    });
  }
  return sum;
}

/**
 * The focus after a key on the head canvas: up/down walk the rows (from the first query when none is focused), left
 * and right switch column, Escape clears; undefined for any other key (not handled).
 * @param {string} key
 * @param {Focus} focus
 * @param {number} N tokens
 * @returns {Focus | undefined}
 */
export function stepFocus(key, focus, N) {
  if (key === "ArrowDown" || key === "ArrowUp") {
    const i = focus ? focus.index + (key === "ArrowDown" ? 1 : -1) : 0;
    return { side: focus?.side ?? "left", index: Math.max(0, Math.min(N - 1, i)) };
  }
  if (key === "ArrowLeft" || key === "ArrowRight") return { side: key === "ArrowLeft" ? "left" : "right", index: focus?.index ?? 0 };
  if (key === "Escape") return null;
  return undefined;
}
