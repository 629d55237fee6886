// @ts-check
/**
 * Which lines the head view draws for one block, read straight from float16 bits (positive float16 bits order like
 * their values, so every threshold test is an integer compare and only drawn weights are decoded). Pure, for tests.
 *
 * A weight A[h, i, j] (query i, key j, head h) is drawn when
 *   1. head h is kept and A >= threshold;
 *   2. (coverage < 1, no token hovered) it is among query i's strongest weights in head h that together hold
 *      `coverage` of the row's attention: sort the row's weights w_(1) >= w_(2) >= ..., keep the first k with
 *      w_(1) + ... + w_(k-1) < coverage * sum_j A[h, i, j] (at least one; ties with w_(k) kept too);
 *   3. it fits the line budget: past it, the weakest lines go first.
 * Hovering a token (focus) draws every line of that token at or above the threshold.
 */
import { floatToHalf, halfTable } from "./codec.js";
import { sig3 } from "./colormap.js";

/** Alpha levels: a line of weight w is drawn with alpha ceil(w * LEVELS) / LEVELS, one path per head and level. */
export const LEVELS = 8;
/**
 * At most this many lines per draw: past it the weakest lines are left out (counted in data-lines-hidden), so a
 * near-uniform block of 512 tokens cannot freeze the page. Measured in headless Chromium with software raster:
 * 3,000 one-pixel lines reach the screen in about one frame, 12,500 in about 70 ms, 30,000 in about 140 ms.
 */
export const LINE_BUDGET = 6000;
/** The default share of each query's attention drawn (the AttentionView `coverage` trait). */
export const DEFAULT_COVERAGE = 0.5;

const HIST = new Uint32Array(0x7c00);

/**
 * @typedef {{head: number, levels: number[][]}} HeadLines levels[k] = flat [i0, j0, i1, j1, ...]
 * @typedef {{side: "left" | "right", index: number} | null} Focus
 */

/**
 * The largest weight (in the tensor's stored units) of the kept heads of one block: what a blank head view says.
 * @param {Uint16Array} bits float16 bits of [B, H, N, N]
 * @param {number[]} shape
 * @param {number} layer
 * @param {boolean[]} kept
 */
export function strongestWeight(bits, shape, layer, kept) {
  const [, H, N] = shape;
  let best = 0;
  for (let hd = 0; hd < H; hd++) {
    if (!kept[hd]) continue;
    const base = (layer * H + hd) * N * N;
    for (let k = 0; k < N * N; k++) {
      const b = bits[base + k];
      if (b < 0x7c00 && b > best) best = b;
    }
  }
  return halfTable()[best];
}

/** @param {number} v */
export function weightLabel(v) {
  return sig3(v);
}

/**
 * Per kept head and query row, the smallest float16 bit pattern drawn under `coverage` (rule 2 above); 0x7c00 for a
 * row with nothing at or above the threshold.
 * @param {Uint16Array} bits
 * @param {number} base offset of the head's [N, N] map
 * @param {number} N
 * @param {number} thr threshold as float16 bits
 * @param {number} coverage
 * @param {Float32Array} table
 */
function rowCutoffs(bits, base, N, thr, coverage, table) {
  const cut = new Uint16Array(N);
  /** @type {number[]} */
  const cand = [];
  for (let i = 0; i < N; i++) {
    const o = base + i * N;
    let total = 0;
    cand.length = 0;
    for (let j = 0; j < N; j++) {
      const b = bits[o + j];
      if (b >= 0x7c00) continue;
      total += table[b];
      if (b >= thr) cand.push(b);
    }
    if (!cand.length) { cut[i] = 0x7c00; continue; }
    cand.sort((a, b) => b - a);
    const target = coverage * total;
    let acc = 0;
    let k = 0;
    while (k < cand.length && (k === 0 || acc < target)) acc += table[cand[k++]];
    cut[i] = cand[k - 1];
  }
  return cut;
}

/**
 * The head view's lines for one block (rules 1-3 above).
 * @param {Uint16Array} bits float16 bits of [B, H, N, N]
 * @param {number[]} shape
 * @param {number} layer
 * @param {boolean[]} kept [H]
 * @param {number} threshold
 * @param {Focus} focus
 * @param {number} [scale] the tensor's scale (weights = stored * scale; the kernel sends attention with scale 1)
 * @param {number} [budget] most lines to keep: the weakest go first
 * @param {number} [coverage] share of each query's attention drawn (1: all weights above the threshold)
 * @returns {{heads: HeadLines[], count: number, hidden: number, uncovered: number}} hidden: left out by the budget;
 *   uncovered: at or above the threshold but outside the coverage
 */
export function headViewPlan(bits, shape, layer, kept, threshold, focus, scale = 1, budget = Infinity, coverage = 1) {
  const [, H, N] = shape;
  const table = halfTable();
  const thr = Math.max(1, floatToHalf(threshold / scale));
  const i0 = focus && focus.side === "left" ? focus.index : 0;
  const i1 = focus && focus.side === "left" ? focus.index + 1 : N;
  const j0 = focus && focus.side === "right" ? focus.index : 0;
  const j1 = focus && focus.side === "right" ? focus.index + 1 : N;
  /** @type {number[]} */
  const heads = [];
  for (let hd = 0; hd < H; hd++) if (kept[hd]) heads.push(hd);
  const covering = coverage < 1 && !focus;
  /** @type {Map<number, Uint16Array>} */
  const cuts = new Map();
  let uncovered = 0;
  for (const hd of heads) {
    const base = (layer * H + hd) * N * N;
    const cut = covering ? rowCutoffs(bits, base, N, thr, coverage, table) : null;
    if (cut) cuts.set(hd, cut);
  }
  /** @param {number} hd @param {number} i */
  const rowThr = (hd, i) => {
    const cut = cuts.get(hd);
    return cut ? Math.max(thr, cut[i]) : thr;
  };
  // Pass 1: count what rules 1-2 keep (a histogram of the bits, for the budget cutoff).
  HIST.fill(0);
  let total = 0;
  for (const hd of heads) {
    const base = (layer * H + hd) * N * N;
    for (let i = i0; i < i1; i++) {
      const o = base + i * N;
      const t = rowThr(hd, i);
      for (let j = j0; j < j1; j++) {
        const b = bits[o + j];
        if (b >= 0x7c00 || b < thr) continue;
        if (b >= t) { HIST[b] += 1; total += 1; } else uncovered += 1;
      }
    }
  }
  let cutoff = thr;
  let room = Infinity;
  let hidden = 0;
  if (total > budget) {
    let fits = 0;
    let c = 0x7bff;
    while (c > thr && fits + HIST[c] <= budget) fits += HIST[c--];
    cutoff = c;
    room = budget - fits;
    hidden = total - budget;
  }
  // Pass 2: the lines, grouped by head and alpha level.
  /** @type {HeadLines[]} */
  const plan = [];
  let count = 0;
  for (const hd of heads) {
    /** @type {number[][]} */
    const levels = Array.from({ length: LEVELS }, () => []);
    const base = (layer * H + hd) * N * N;
    for (let i = i0; i < i1; i++) {
      const o = base + i * N;
      const t = Math.max(cutoff, rowThr(hd, i));
      for (let j = j0; j < j1; j++) {
        const b = bits[o + j];
        if (b < t || b >= 0x7c00) continue;
        if (b === cutoff && hidden > 0) {
          if (room <= 0) continue;
          room -= 1;
        }
        const k = Math.min(LEVELS - 1, Math.ceil(table[b] * scale * LEVELS) - 1);
        levels[Math.max(0, k)].push(i, j);
        count += 1;
      }
    }
    plan.push({ head: hd, levels });
  }
  return { heads: plan, count, hidden, uncovered };
}
