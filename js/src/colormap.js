// @ts-check
/**
 * Colormaps as 256-entry lookup tables built from 11 stops of matplotlib's maps (same names, same look as the
 * static plots), and the value -> [0, 1] normalisation every view shares: sequential maps run from the lower bound to
 * the upper bound, diverging maps are symmetric around zero so white always means "no relevance".
 */

/** @typedef {[number, number, number]} RGB */
/**
 * The range a map is drawn over. `mode` is the colour-scale mode it came from (see SCALES); a rank scale carries the
 * sorted finite values (|values| when signed) so `unit` can give each value its percentile.
 * @typedef {{lo: number, hi: number, signed: boolean, mode?: string, sorted?: Float64Array}} Range
 */

/** @type {Record<string, string[]>} */
const STOPS = {
  viridis: ["440154", "482475", "414487", "355f8d", "2a788e", "21918c", "22a884", "44bf70", "7ad151", "bddf26", "fde725"],
  magma: ["000004", "140e36", "3b0f70", "641a80", "8c2981", "b73779", "de4968", "f7705c", "fe9f6d", "fecf92", "fcfdbf"],
  inferno: ["000004", "160b39", "420a68", "6a176e", "932667", "bc3754", "dd513a", "f37819", "fca50a", "f6d746", "fcffa4"],
  reds: ["fff5f0", "fee5d8", "fdcab5", "fcab8f", "fc8a6a", "fb694a", "f14432", "d92523", "bc141a", "980c13", "67000d"],
  blues: ["f7fbff", "e3eef9", "d0e1f2", "b7d4ea", "94c4df", "6aaed6", "4a98c9", "2e7ebc", "1764ab", "084a91", "08306b"],
  greys: ["ffffff", "f3f3f3", "e2e2e2", "cecece", "b5b5b5", "959595", "7a7a7a", "5f5f5f", "404040", "1d1d1d", "000000"],
  jet: ["000080", "0000f1", "004cff", "00b0ff", "29ffce", "7dff7a", "ceff29", "ffc400", "ff6800", "f10800", "800000"],
  rdbu: ["053061", "2065ab", "4393c3", "90c4dd", "d1e5f0", "f7f6f6", "fddbc7", "f3a481", "d6604d", "b1182b", "67001f"],
};

/** Maps whose middle is the neutral colour (used for signed values). */
export const DIVERGING = ["rdbu"];
/** Maps for values that are never negative. */
export const SEQUENTIAL = ["reds", "blues", "viridis", "magma", "inferno", "greys", "jet"];
export const NAMES = [...SEQUENTIAL, ...DIVERGING];

/** Entries per lookup table: odd, so t = 0.5 (zero on a diverging map) lands exactly on the middle stop. */
export const LUT_SIZE = 257;
const TOP = LUT_SIZE - 1;

/** @type {Map<string, Uint8ClampedArray>} */
const LUTS = new Map();

/** @param {string} hex */
function parse(hex) {
  return [0, 2, 4].map((k) => parseInt(hex.slice(k, k + 2), 16));
}

/**
 * LUT_SIZE RGB entries (flat) of a named map.
 * @param {string} name
 */
export function lut(name) {
  const key = name.toLowerCase();
  const cached = LUTS.get(key);
  if (cached) return cached;
  const stops = STOPS[key];
  if (!stops) throw new RangeError(`attnviz: unknown colormap ${name}; choose one of ${NAMES.join(", ")}`);
  const rgb = stops.map(parse);
  const table = new Uint8ClampedArray(LUT_SIZE * 3);
  const last = rgb.length - 1;
  for (let i = 0; i < LUT_SIZE; i++) {
    const x = (i / TOP) * last;
    const k = Math.min(Math.floor(x), last - 1);
    const f = x - k;
    for (let c = 0; c < 3; c++) table[3 * i + c] = Math.round(rgb[k][c] * (1 - f) + rgb[k + 1][c] * f);
  }
  LUTS.set(key, table);
  return table;
}

/**
 * The colour of `t` in [0, 1] (clamped; NaN -> the middle).
 * @param {string} name
 * @param {number} t
 * @returns {RGB}
 */
export function color(name, t) {
  const table = lut(name);
  const i = Number.isFinite(t) ? Math.max(0, Math.min(TOP, Math.round(t * TOP))) : TOP / 2;
  return [table[3 * i], table[3 * i + 1], table[3 * i + 2]];
}

/**
 * @param {RGB} rgb
 * @param {number} [alpha]
 */
export function css(rgb, alpha = 1) {
  return alpha >= 1 ? `rgb(${rgb[0]}, ${rgb[1]}, ${rgb[2]})` : `rgba(${rgb[0]}, ${rgb[1]}, ${rgb[2]}, ${alpha})`;
}

/**
 * Black or white, whichever reads better on `rgb` (relative luminance, WCAG).
 * @param {RGB} rgb
 */
export function textColor(rgb) {
  const lin = rgb.map((v) => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  const lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  return lum > 0.35 ? "#111" : "#fff";
}

/**
 * value -> [0, 1] position on the map for a range (on a rank scale: the value's percentile; signed, 0.5 +- half the
 * percentile of |v|, so white stays zero).
 * @param {Range} range
 * @param {number} v
 */
export function unit(range, v) {
  if (range.sorted) {
    const s = range.sorted;
    if (!s.length || !Number.isFinite(v)) return range.signed ? 0.5 : 0;
    const q = percentile(s, range.signed ? Math.abs(v) : v);
    return range.signed ? 0.5 + 0.5 * Math.sign(v) * q : q;
  }
  const t = (v - range.lo) / (range.hi - range.lo);
  return Math.max(0, Math.min(1, t));
}

/**
 * The share of `sorted` strictly below v plus half of the ties, rescaled so the smallest value maps to 0 and the
 * largest to 1 (a map with n distinct values uses the whole colour range).
 * @param {Float64Array} sorted ascending
 * @param {number} v
 */
function percentile(sorted, v) {
  const n = sorted.length;
  if (n === 1) return 1;
  let lo = 0;
  let hi = n;
  while (lo < hi) { const m = (lo + hi) >> 1; if (sorted[m] < v) lo = m + 1; else hi = m; }
  let up = lo;
  while (up < n && sorted[up] === v) up++;
  const mid = (lo + Math.max(lo, up - 1)) / 2;
  return Math.max(0, Math.min(1, mid / (n - 1)));
}

/** The colour-scale modes every view offers (the `color_scale` trait); "auto" picks one per method family. */
export const SCALES = ["auto", "map", "zero", "symmetric", "blocks", "rank"];
/** What the legend says for each mode. */
export const SCALE_TITLES = /** @type {Record<string, string>} */ ({
  map: "per map, min to max",
  zero: "from zero",
  symmetric: "symmetric around 0",
  blocks: "fixed across blocks",
  rank: "rank (percentile)",
});
/** A map whose smallest value is at least this share of its largest is near-uniform: "auto" never paints it from 0. */
export const NEAR_UNIFORM = 0.5;

/**
 * The concrete mode "auto" stands for. Signed methods: symmetric (white is zero). Attention-family maps (raw,
 * rollout, flow: rows of a distribution, often near-uniform): per map. Other unsigned maps: from zero, unless the map
 * is near-uniform (min >= NEAR_UNIFORM * max), which from zero would paint all maximum: then per map.
 * @param {string} mode
 * @param {{signed: boolean, family?: string, values?: ArrayLike<number>, skip?: ArrayLike<boolean | number>}} c
 */
export function resolveScale(mode, c) {
  if (mode && mode !== "auto") return mode;
  if (c.signed) return "symmetric";
  if (c.family === "attention") return "map";
  if (c.values) {
    const r = extent(c.values, c.skip);
    if (r && r.lo > 0 && r.lo >= NEAR_UNIFORM * r.hi) return "map";
  }
  return "zero";
}

/**
 * @param {ArrayLike<number>} values
 * @param {ArrayLike<boolean | number>} [skip]
 * @returns {{lo: number, hi: number} | null}
 */
function extent(values, skip) {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (skip && skip[i]) continue;
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo === Infinity ? null : { lo, hi };
}

/**
 * The range one map is drawn over under a colour-scale mode.
 *   map: [min, max] of this map (a near-uniform map shows its structure; the legend prints the range);
 *   zero: [min(0, min), max];  symmetric: [-m, m], m = max |v|;
 *   blocks: like zero (or symmetric) over `all`, every block's values, so sliding the layer shows relevance build up;
 *   rank: each value's percentile in this map (for comparing methods with different units).
 * Signed maps always keep zero in the middle: map and zero become symmetric for them. Entries where `skip[i]`
 * (special tokens left out) do not set the range. A flat map gets a unit-width range.
 * @param {ArrayLike<number>} values
 * @param {string} mode one of SCALES (resolve "auto" first with resolveScale)
 * @param {boolean} signed
 * @param {{skip?: ArrayLike<boolean | number>, all?: ArrayLike<number>[]}} [opts] all: every block's map (mode blocks)
 * @returns {Range}
 */
export function scaleRange(values, mode, signed, opts = {}) {
  const skip = opts.skip;
  if (mode === "rank") {
    /** @type {number[]} */
    const kept = [];
    for (let i = 0; i < values.length; i++) {
      if (skip && skip[i]) continue;
      const v = values[i];
      if (Number.isFinite(v)) kept.push(signed ? Math.abs(v) : v);
    }
    const sorted = Float64Array.from(kept).sort();
    return { lo: signed ? -1 : 0, hi: 1, signed, mode, sorted };
  }
  if (mode === "blocks" && opts.all) {
    /** @type {{lo: number, hi: number} | null} */
    let r = null;
    for (const rowValues of opts.all) {
      const e = extent(rowValues, skip);
      if (e) r = r ? { lo: Math.min(r.lo, e.lo), hi: Math.max(r.hi, e.hi) } : e;
    }
    return withMode(fromExtent(r, signed, false), mode);
  }
  const r = extent(values, skip);
  return withMode(fromExtent(r, signed, mode === "map" && !signed), mode);
}

/**
 * @param {{lo: number, hi: number} | null} r
 * @param {boolean} signed
 * @param {boolean} minToMax
 * @returns {Range}
 */
function fromExtent(r, signed, minToMax) {
  if (!r) return { lo: signed ? -1 : 0, hi: 1, signed };
  if (signed) {
    const m = Math.max(Math.abs(r.lo), Math.abs(r.hi)) || 1;
    return { lo: -m, hi: m, signed };
  }
  let lo = minToMax ? r.lo : Math.min(0, r.lo);
  let hi = r.hi;
  if (hi <= lo) {
    if (minToMax && hi > 0) lo = 0;  // a flat positive map: from zero, so it is drawn as what it is (all equal)
    else hi = lo + 1;
  }
  return { lo, hi, signed };
}

/**
 * @param {Range} r
 * @param {string} mode
 * @returns {Range}
 */
function withMode(r, mode) {
  return { ...r, mode };
}

/**
 * The legend's text for a range: the mode and the values at both ends, e.g. "per map, min to max: 0.052 to 0.06".
 * @param {Range} range
 */
export function scaleText(range) {
  const title = SCALE_TITLES[range.mode ?? ""] ?? "";
  if (range.sorted) {
    const s = range.sorted;
    const span = s.length ? `${sig3(s[0])} to ${sig3(s[s.length - 1])}` : "no values";
    return `${title}: ${range.signed ? "|values| " : ""}${span}`;
  }
  return title ? `${title}: ${sig3(range.lo)} to ${sig3(range.hi)}` : `${sig3(range.lo)} to ${sig3(range.hi)}`;
}

/**
 * The map a view draws with: "auto" picks reds (text) / inferno (image) for unsigned values, rdbu for signed.
 * A sequential map asked for signed values is replaced by rdbu so negative relevance is never hidden.
 * @param {string} name
 * @param {boolean} signed
 * @param {"text" | "image"} kind
 */
export function pick(name, signed, kind) {
  if (signed) return DIVERGING.includes(name) ? name : "rdbu";
  if (!name || name === "auto") return kind === "image" ? "inferno" : "reds";
  return name;
}

/**
 * A CSS linear-gradient of a map, for legends.
 * @param {string} name
 */
export function gradientCss(name) {
  const stops = [];
  for (let k = 0; k <= 10; k++) stops.push(`${css(color(name, k / 10))} ${k * 10}%`);
  return `linear-gradient(to right, ${stops.join(", ")})`;
}

/**
 * Short number for legends and hover text.
 * @param {number} v
 */
export function fmt(v) {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(2);
  return v.toFixed(a < 1 ? 4 : 3).replace(/\.?0+$/, "") || "0";
}

const SUPERSCRIPT = /** @type {Record<string, string>} */ ({ "-": "⁻", "+": "", 0: "⁰", 1: "¹", 2: "²", 3: "³",
  4: "⁴", 5: "⁵", 6: "⁶", 7: "⁷", 8: "⁸", 9: "⁹" });

/**
 * Three significant digits, without e-notation: 0.123, 41.2, 3.16×10⁻⁷.
 * @param {number} v
 */
export function sig3(v) {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e4) return String(Number(v.toPrecision(3)));
  const [mantissa, exponent] = v.toExponential(2).split("e");
  return `${Number(mantissa)}×10${[...exponent].map((c) => SUPERSCRIPT[c] ?? c).join("")}`;
}

/**
 * A hover value a person can read: three significant digits and the share of the map's largest |value|,
 * e.g. "3.16×10⁻⁷ (42% of max)".
 * @param {number} v
 * @param {ArrayLike<number>} values the whole map
 */
export function readable(v, values) {
  if (!Number.isFinite(v)) return String(v);
  let max = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (Number.isFinite(a) && a > max) max = a;
  }
  return max > 0 ? `${sig3(v)} (${Math.round((100 * v) / max)}% of max)` : sig3(v);
}

/**
 * A label cut to ``max`` characters with an ellipsis (the full text goes in a tooltip): a 10 kB class name must
 * not make the page thousands of pixels wide.
 * @param {string} text
 * @param {number} [max]
 */
export function shortLabel(text, max = 48) {
  const s = String(text);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** A categorical palette, one colour per attention head (d3's category10 then tableau extras, then HSL). */
const HEAD = ["1f77b4", "ff7f0e", "2ca02c", "d62728", "9467bd", "8c564b", "e377c2", "7f7f7f", "bcbd22", "17becf",
  "393b79", "e7ba52", "637939", "ad494a", "a55194", "6b6ecf"];

/**
 * @param {number} h head index
 * @returns {RGB}
 */
export function headColor(h) {
  if (h < HEAD.length) return /** @type {RGB} */ (parse(HEAD[h]));
  const hue = (h * 137.508) % 360;
  return hslToRgb(hue, 0.6, 0.45);
}

/**
 * @param {number} h degrees
 * @param {number} s
 * @param {number} l
 * @returns {RGB}
 */
function hslToRgb(h, s, l) {
  const a = s * Math.min(l, 1 - l);
  /** @param {number} n */
  const f = (n) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}
