// @ts-check
/**
 * Geometry shared by the views, kept free of the DOM so it is unit-tested: the head view's two token columns, the
 * B x H thumbnail grid of the model view, bilinear upsampling of a patch grid, box wrapping for PNG export.
 */

/**
 * @typedef {{n: number, rowH: number, top: number, height: number, width: number, labelW: number,
 *   xLeft: number, xRight: number}} HeadLayout
 */

/**
 * The head view: queries on the left, keys on the right, lines between x = xLeft and x = xRight.
 * Rows shrink to fit long inputs (at 512 tokens each row is 3 px and labels show on hover).
 * @param {number} n tokens
 * @param {{width?: number, labelW?: number, maxHeight?: number, top?: number, minRow?: number, maxCanvas?: number}} [opts]
 * @returns {HeadLayout}
 */
export function headViewLayout(n, opts = {}) {
  const width = opts.width ?? 560;
  const labelW = opts.labelW ?? 110;
  const top = opts.top ?? 8;
  const maxHeight = opts.maxHeight ?? 1600;
  // Long inputs get a taller canvas (scrolled in its window) rather than rows too thin for a label: rows of at least
  // minRow px, the canvas at most maxCanvas px tall.
  const minRow = opts.minRow ?? 3;
  const tall = Math.max(maxHeight, Math.min(opts.maxCanvas ?? maxHeight, minRow * n + 2 * top));
  const rowH = Math.max(3, Math.min(18, Math.floor((tall - 2 * top) / Math.max(n, 1))));
  return { n, rowH, top, height: top * 2 + rowH * n, width, labelW, xLeft: labelW + 6, xRight: width - labelW - 6 };
}

/**
 * Centre y of row i.
 * @param {HeadLayout} L
 * @param {number} i
 */
export function rowY(L, i) {
  return L.top + (i + 0.5) * L.rowH;
}

/**
 * Which token is under a point: {side: "left" | "right", index} or null.
 * @param {HeadLayout} L
 * @param {number} x
 * @param {number} y
 */
export function headViewHit(L, x, y) {
  const i = Math.floor((y - L.top) / L.rowH);
  if (i < 0 || i >= L.n) return null;
  if (x < L.xLeft) return { side: "left", index: i };
  if (x > L.xRight) return { side: "right", index: i };
  return null;
}

/**
 * @typedef {{rows: number, cols: number, cell: number, gap: number, left: number, top: number,
 *   width: number, height: number}} GridLayout
 */

/**
 * The model view's B x H thumbnails (row = block, column = head), with room for labels on the left and top.
 * @param {number} rows
 * @param {number} cols
 * @param {{cell?: number, gap?: number, left?: number, top?: number}} [opts]
 * @returns {GridLayout}
 */
export function gridLayout(rows, cols, opts = {}) {
  const cell = opts.cell ?? 56;
  const gap = opts.gap ?? 4;
  const left = opts.left ?? 28;
  const top = opts.top ?? 18;
  return { rows, cols, cell, gap, left, top, width: left + cols * (cell + gap), height: top + rows * (cell + gap) };
}

/**
 * Top-left corner of cell (r, c).
 * @param {GridLayout} G
 * @param {number} r
 * @param {number} c
 */
export function cellOrigin(G, r, c) {
  return { x: G.left + c * (G.cell + G.gap), y: G.top + r * (G.cell + G.gap) };
}

/**
 * The cell under a point, or null (gaps and labels hit nothing).
 * @param {GridLayout} G
 * @param {number} x
 * @param {number} y
 */
export function gridHit(G, x, y) {
  const c = Math.floor((x - G.left) / (G.cell + G.gap));
  const r = Math.floor((y - G.top) / (G.cell + G.gap));
  if (r < 0 || c < 0 || r >= G.rows || c >= G.cols) return null;
  const o = cellOrigin(G, r, c);
  if (x - o.x >= G.cell || y - o.y >= G.cell) return null;
  return { row: r, col: c };
}

/**
 * Bilinear upsampling of a [gh, gw] grid to [outH, outW], sampling at pixel centres (align_corners=False, as
 * torch's F.interpolate and matplotlib's imshow(interpolation="bilinear") do).
 * @param {ArrayLike<number>} grid row-major [gh, gw]
 * @param {number} gh
 * @param {number} gw
 * @param {number} outH
 * @param {number} outW
 */
export function bilinear(grid, gh, gw, outH, outW) {
  const out = new Float32Array(outH * outW);
  const xs = new Int32Array(outW * 2);
  const fx = new Float32Array(outW);
  for (let x = 0; x < outW; x++) {
    const u = Math.max(0, Math.min(gw - 1, ((x + 0.5) * gw) / outW - 0.5));
    const x0 = Math.floor(u);
    xs[2 * x] = x0;
    xs[2 * x + 1] = Math.min(x0 + 1, gw - 1);
    fx[x] = u - x0;
  }
  for (let y = 0; y < outH; y++) {
    const v = Math.max(0, Math.min(gh - 1, ((y + 0.5) * gh) / outH - 0.5));
    const y0 = Math.floor(v);
    const y1 = Math.min(y0 + 1, gh - 1);
    const fy = v - y0;
    for (let x = 0; x < outW; x++) {
      const a = grid[y0 * gw + xs[2 * x]];
      const b = grid[y0 * gw + xs[2 * x + 1]];
      const c = grid[y1 * gw + xs[2 * x]];
      const d = grid[y1 * gw + xs[2 * x + 1]];
      const top = a + (b - a) * fx[x];
      const bottom = c + (d - c) * fx[x];
      out[y * outW + x] = top + (bottom - top) * fy;
    }
  }
  return out;
}

/**
 * The patch (r, c) under a point of an image drawn at size (w, h), or null.
 * @param {number} x
 * @param {number} y
 * @param {number} w
 * @param {number} h
 * @param {number} gh
 * @param {number} gw
 */
export function patchAt(x, y, w, h, gh, gw) {
  if (x < 0 || y < 0 || x >= w || y >= h) return null;
  return { r: Math.floor((y / h) * gh), c: Math.floor((x / w) * gw) };
}

/**
 * Wrap boxes of the given widths into lines no wider than maxWidth (a new line also starts where `breaks[i]`).
 * @param {number[]} widths
 * @param {number} maxWidth
 * @param {{gap?: number, lineH?: number, breaks?: boolean[]}} [opts]
 * @returns {{x: number, y: number}[]} top-left of each box
 */
export function wrapBoxes(widths, maxWidth, opts = {}) {
  const gap = opts.gap ?? 4;
  const lineH = opts.lineH ?? 24;
  /** @type {{x: number, y: number}[]} */
  const out = [];
  let x = 0;
  let y = 0;
  widths.forEach((w, i) => {
    if ((x > 0 && x + w > maxWidth) || (opts.breaks && opts.breaks[i] && i > 0)) {
      x = 0;
      y += lineH;
    }
    out.push({ x, y });
    x += w + gap;
  });
  return out;
}

/**
 * Average-pool an n x n matrix stored row-major at `offset` in `src` into t x t cells (t <= n). With `table`, `src`
 * holds float16 bits and each value is `table[bits]` (the attention tensor is kept undecoded).
 * @param {ArrayLike<number>} src
 * @param {number} offset
 * @param {number} n
 * @param {number} t
 * @param {Float32Array} [table]
 */
export function pool(src, offset, n, t, table) {
  const out = new Float32Array(t * t);
  const count = new Float32Array(t * t);
  const colCell = new Int32Array(n);
  for (let j = 0; j < n; j++) colCell[j] = Math.floor((j * t) / n);
  for (let i = 0; i < n; i++) {
    const base = Math.floor((i * t) / n) * t;
    const o = offset + i * n;
    if (table) for (let j = 0; j < n; j++) out[base + colCell[j]] += table[src[o + j]];
    else for (let j = 0; j < n; j++) out[base + colCell[j]] += src[o + j];
  }
  for (let r = 0; r < t; r++) {
    const rows = Math.floor(((r + 1) * n + t - 1) / t) - Math.floor((r * n + t - 1) / t);
    for (let c = 0; c < t; c++) {
      const cols = Math.floor(((c + 1) * n + t - 1) / t) - Math.floor((c * n + t - 1) / t);
      count[r * t + c] = rows * cols;
    }
  }
  for (let k = 0; k < out.length; k++) out[k] /= count[k] || 1;
  return out;
}
