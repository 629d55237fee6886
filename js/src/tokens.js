// @ts-check
/**
 * Coloured token rows, shared by TextView and CompareView: one span per token (or word), grouped by segment of a
 * sentence pair, coloured from one row of the maps, the value on hover. Also the PNG rendering of the same.
 */
import { color, css, fmt, readable, scaleText, textColor, unit } from "./colormap.js";
import { context2d, control, h } from "./dom.js";
import { wrapBoxes } from "./layout.js";

/** @typedef {import("./colormap.js").Range} Range */

/**
 * @param {Document} doc
 */
export function tokenRows(doc) {
  const el = h(doc, "div", { class: "attnviz-tokens" });
  /** @type {HTMLSpanElement[]} */
  let spans = [];
  /** @type {string[]} */
  let units = [];
  /** @type {HTMLSpanElement | null} the explained token last scrolled to */
  let markedSpan = null;

  /**
   * Rebuild the spans (the kernel sent new units: a new input or word-level aggregation switched).
   * @param {string[]} newUnits
   * @param {number[]} segments
   * @param {boolean[]} special
   */
  function setUnits(newUnits, segments, special) {
    units = (newUnits ?? []).map(String);
    const segs = units.map((_, i) => Number(segments?.[i] ?? 0));
    const distinct = [...new Set(segs)].sort();
    spans = units.map((u, i) => {
      const span = h(doc, "span", { class: "attnviz-token", text: u, attrs: { "data-index": i } });
      if (special?.[i]) span.classList.add("attnviz-special");
      return span;
    });
    el.classList.toggle("attnviz-tokens-long", units.length > LONG_TEXT);
    el.replaceChildren(...distinct.map((s, k) => {
      const members = spans.filter((_, i) => segs[i] === s);
      const label = distinct.length > 1 ? h(doc, "span", { class: "attnviz-segment-label", text: String.fromCharCode(65 + k) }) : null;
      return h(doc, "div", { class: "attnviz-segment", attrs: { "data-segment": s }, children: [label, ...members] });
    }));
  }

  /**
   * Colour the spans. Returns the colours drawn (for the checksum).
   * @param {ArrayLike<number>} values one value per unit
   * @param {string} cmap
   * @param {Range} range
   * @param {ArrayLike<boolean>} [neutral] units drawn without colour (special tokens left out of the range)
   */
  function paint(values, cmap, range, neutral) {
    /** @type {string[]} */
    const drawn = [];
    spans.forEach((span, i) => {
      const v = values[i];
      span.title = `${units[i]}: ${readable(v, values)}`;
      span.setAttribute("data-value", String(v));
      if (neutral && neutral[i]) {
        span.style.background = "";
        span.style.color = "";
        drawn.push("-");
        return;
      }
      const rgb = color(cmap, unit(range, v));
      const bg = css(rgb);
      span.style.background = bg;
      span.style.color = textColor(rgb);
      drawn.push(bg);
    });
    return drawn;
  }

  /**
   * A decoder's explained position: its unit outlined (the prediction after it is explained); the units after it,
   * which that prediction cannot see, faded and left uncoloured by the caller (not drawn as zero relevance).
   * @param {number} explained unit index, or -1
   * @param {ArrayLike<boolean>} [unseen]
   */
  function mark(explained, unseen) {
    const target = spans[explained];
    if (target && target !== markedSpan && el.classList.contains("attnviz-tokens-long")) {
      // a long text's window opens at the explained token (a language model's is usually the last), once the
      // view is laid out (a cell's output is attached after the first draw)
      let frames = 0;
      const scroll = () => {
        if (el.clientHeight > 0 && el.isConnected) {
          const box = el.getBoundingClientRect();
          const at = target.getBoundingClientRect();
          el.scrollTop += at.top - box.top - el.clientHeight / 2;
        } else if (frames++ < 120 && typeof requestAnimationFrame === "function") {
          requestAnimationFrame(scroll);
        }
      };
      scroll();
    }
    markedSpan = target ?? null;
    spans.forEach((span, i) => {
      const isExplained = i === explained;
      const isUnseen = Boolean(unseen?.[i]);
      span.classList.toggle("attnviz-explained", isExplained);
      span.classList.toggle("attnviz-unseen", isUnseen);
      if (isExplained) span.title += " · explained: the next-token prediction after this token";
      if (isUnseen) span.title = `${units[i]}: after the explained position, not seen by the prediction`;
    });
  }

  return { el, setUnits, paint, mark, get spans() { return spans; }, get units() { return units; } };
}

/**
 * The indices of tokens matching a search: case-insensitive, ignoring word-piece marks (##, Ġ, ▁).
 * @param {string[]} tokens
 * @param {string} query
 */
export function findTokens(tokens, query) {
  const clean = (/** @type {string} */ t) => t.replace(/^(##|Ġ|▁)/, "").trim().toLowerCase();
  const q = clean(String(query ?? ""));
  if (!q) return [];
  /** @type {number[]} */
  const out = [];
  tokens.forEach((t, i) => { if (clean(String(t)).includes(q)) out.push(i); });
  return out;
}

/**
 * A search box over the token rows: type a word, its matches are marked and the first scrolled into view; Enter
 * walks the matches. Long texts (more than LONG_TEXT units) get a scrolled window, so this is how to find a word.
 * @param {Document} doc
 * @param {import("./dom.js").Disposer} d
 * @param {ReturnType<typeof tokenRows>} rows
 */
export function tokenSearch(doc, d, rows) {
  const input = control(h(doc, "input", { class: "attnviz-search", attrs: { type: "search", placeholder: "find a word", "aria-label": "find a word (Enter: next match)" } }));
  const count = h(doc, "span", { class: "attnviz-search-count" });
  const el = h(doc, "span", { class: "attnviz-field", children: [input, count] });
  let at = -1;
  /** @param {boolean} advance */
  function run(advance) {
    rows.spans.forEach((s) => s.classList.remove("attnviz-match", "attnviz-match-current"));
    const hits = findTokens(rows.units, input.value);
    rows.el.setAttribute("data-search-hits", String(hits.length));
    if (!input.value.trim()) { count.textContent = ""; at = -1; return; }
    if (!hits.length) { count.textContent = "no match"; return; }
    at = advance ? (at + 1) % hits.length : 0;
    for (const i of hits) rows.spans[i].classList.add("attnviz-match");
    const span = rows.spans[hits[at]];
    span.classList.add("attnviz-match-current");
    if (typeof span.scrollIntoView === "function") span.scrollIntoView({ block: "nearest" });
    count.textContent = `${at + 1} of ${hits.length} (Enter: next)`;
    rows.el.setAttribute("data-search-current", String(hits[at]));
  }
  d.listen(input, "input", () => run(false));
  d.listen(input, "keydown", (ev) => {
    if (/** @type {KeyboardEvent} */ (ev).key === "Enter") { ev.preventDefault(); run(true); }
  });
  return { el, input, refresh: () => run(false) };
}

/** More units than this: the token rows get a scrolled window (and the search box finds words in it). */
export const LONG_TEXT = 96;

/**
 * Draw token boxes (and a title) on a fresh canvas for PNG export. Null where there is no canvas.
 * @param {Document} doc
 * @param {{title: string, units: string[], values: ArrayLike<number>, segments: number[], cmap: string,
 *   range: Range, neutral?: ArrayLike<boolean>, width?: number}} spec
 */
export function tokensCanvas(doc, spec) {
  const width = spec.width ?? 800;
  const probe = doc.createElement("canvas");
  const m = context2d(probe, 10, 10);
  if (!m) return null;
  const font = "14px sans-serif";
  m.font = font;
  const widths = spec.units.map((u) => Math.ceil(m.measureText(u).width) + 10);
  const breaks = spec.units.map((_, i) => i > 0 && spec.segments[i] !== spec.segments[i - 1]);
  const pos = wrapBoxes(widths, width - 20, { gap: 4, lineH: 26, breaks });
  const height = 40 + (pos.length ? pos[pos.length - 1].y + 26 : 0) + 40;
  const canvas = doc.createElement("canvas");
  const ctx = context2d(canvas, width, height);
  if (!ctx) return null;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = "#111";
  ctx.font = "bold 14px sans-serif";
  ctx.textBaseline = "middle";
  ctx.fillText(spec.title, 10, 18);
  ctx.font = font;
  spec.units.forEach((u, i) => {
    const x = 10 + pos[i].x;
    const y = 36 + pos[i].y;
    const neutral = spec.neutral && spec.neutral[i];
    const rgb = color(spec.cmap, unit(spec.range, spec.values[i]));
    ctx.fillStyle = neutral ? "#fff" : css(rgb);
    ctx.fillRect(x, y, widths[i], 22);
    ctx.strokeStyle = "#bbb";
    ctx.strokeRect(x + 0.5, y + 0.5, widths[i] - 1, 21);
    ctx.fillStyle = neutral ? "#555" : textColor(rgb);
    ctx.fillText(u, x + 5, y + 11);
  });
  const ly = height - 28;
  for (let k = 0; k < 200; k++) {
    ctx.fillStyle = css(color(spec.cmap, k / 199));
    ctx.fillRect(10 + k, ly, 1, 12);
  }
  ctx.fillStyle = "#111";
  ctx.fillText(fmt(spec.range.lo), 10, ly + 22);
  ctx.fillText(fmt(spec.range.hi), 190, ly + 22);
  ctx.fillStyle = "#555";
  ctx.fillText(scaleText(spec.range), 220, ly + 6);
  return canvas;
}
