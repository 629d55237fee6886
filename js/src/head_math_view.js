// @ts-check
/**
 * HeadMathView: one attention head's arithmetic for one query token, with the model's own numbers (sent by the
 * kernel): q, every key, q·k times the scale, the causal mask, the softmax (equal to the model's attention), the
 * weighted sum of values, the output's norm and its direct contribution to the explained target. The temperature
 * slider is a what-if computed here from the scores (never the model's pattern). Clicking a token or a row of the
 * head's pattern picks the query (the kernel answers); block and head pickers too. Clicking a key's row writes out
 * its score and value vector (here).
 *
 * Traits read: tokens, block, head, query, num_blocks, num_heads, position, target_text, math {q, keys, values,
 * scores (NaN = masked), weights, model_weights, z}, facts, pattern {float16 [N, N]}, error, revision.
 * Traits written: block, head, query.
 */
import { color, css, fmt } from "./colormap.js";
import { picker, statusLine } from "./controls.js";
import { canvasPoint, checksum, context2d, h } from "./dom.js";
import { createView } from "./view.js";

/** Keys listed in the table at most (the ones with the largest weights, in their order in the text). */
export const MAX_ROWS = 64;

/**
 * softmax(scores / T) over the finite scores (NaN = masked -> 0).
 * @param {ArrayLike<number>} scores
 * @param {number} T
 */
export function whatIf(scores, T) {
  const out = new Float64Array(scores.length);
  let m = -Infinity;
  for (let j = 0; j < scores.length; j++) if (Number.isFinite(scores[j])) m = Math.max(m, scores[j] / T);
  let s = 0;
  for (let j = 0; j < scores.length; j++) {
    out[j] = Number.isFinite(scores[j]) ? Math.exp(scores[j] / T - m) : 0;
    s += out[j];
  }
  for (let j = 0; j < out.length; j++) out[j] = s > 0 ? out[j] / s : 0;
  return out;
}

/**
 * The keys the table lists: every unmasked key when there are at most `max`, else the `max` with the largest
 * weights, in their order in the text.
 * @param {ArrayLike<number>} scores
 * @param {ArrayLike<number>} weights
 * @param {number} [max]
 */
export function shownKeys(scores, weights, max = MAX_ROWS) {
  const open = [];
  for (let j = 0; j < scores.length; j++) if (Number.isFinite(scores[j])) open.push(j);
  if (open.length <= max) return open;
  return open.slice().sort((a, b) => weights[b] - weights[a]).slice(0, max).sort((a, b) => a - b);
}

/**
 * The slider's position (−4..4, in half-octaves) -> the temperature 2^(pos/2).
 * @param {number} pos
 */
export function temperatureOf(pos) {
  return 2 ** (pos / 2);
}

/**
 * A vector as a strip of coloured cells (diverging around 0), its own symmetric range.
 * @param {Document} doc
 * @param {ArrayLike<number>} v
 * @param {number} [width]
 */
function strip(doc, v, width = 128) {
  const canvas = /** @type {HTMLCanvasElement} */ (h(doc, "canvas", { class: "attnviz-strip" }));
  const ctx = context2d(canvas, width, 10);
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]));
  if (ctx && v.length) {
    const w = width / v.length;
    for (let i = 0; i < v.length; i++) {
      ctx.fillStyle = css(color("rdbu", m ? 0.5 + 0.5 * v[i] / m : 0.5));
      ctx.fillRect(i * w, 0, Math.ceil(w), 10);
    }
  }
  return canvas;
}

/**
 * A bar for a weight in [0, 1].
 * @param {Document} doc
 * @param {number} w
 * @param {string} cls
 */
function bar(doc, w, cls) {
  const fill = h(doc, "span", { class: `attnviz-bar-fill ${cls}` });
  fill.style.width = `${Math.max(0, Math.min(1, w)) * 100}%`;
  return h(doc, "span", { class: "attnviz-bar", children: [fill, h(doc, "span", { class: "attnviz-bar-text", text: w.toFixed(3) })] });
}

/** @param {import("./model.js").RenderArgs} args */
export function render({ model, el }) {
  const view = createView(model, el, "head-math");
  const { doc, d, root, kernel, toKernel } = view;
  const title = h(doc, "div", { class: "attnviz-title" });
  const blockPick = picker(doc, d, { label: "block", cls: "attnviz-pick-block", onChange: (v) => toKernel({ block: Number(v) }) });
  const headPick = picker(doc, d, { label: "head", cls: "attnviz-pick-head", onChange: (v) => toKernel({ head: Number(v) }) });
  blockPick.select.disabled = headPick.select.disabled = !kernel;
  const temp = /** @type {HTMLInputElement} */ (h(doc, "input", { class: "attnviz-temperature", attrs: { type: "range", min: -4, max: 4, step: 1, value: 0, "aria-label": "what-if temperature", "data-lm-suppress-shortcuts": "true" } }));
  const tempText = h(doc, "span", { class: "attnviz-temperature-text" });
  const tempField = h(doc, "label", { class: "attnviz-field attnviz-whatif", title: "a what-if: the softmax at another temperature. The model always uses T = 1.", children: [h(doc, "span", { text: "what-if temperature" }), temp, tempText] });
  const tokens = h(doc, "div", { class: "attnviz-query-tokens", attrs: { role: "toolbar", "aria-label": "query token" } });
  const patternCanvas = /** @type {HTMLCanvasElement} */ (h(doc, "canvas", { class: "attnviz-pattern" }));
  const patternBox = h(doc, "div", { class: "attnviz-pattern-box", children: [h(doc, "div", { class: "attnviz-caption", text: "the head's attention (rows: queries, columns: keys; grey: masked future; click a row)" }), patternCanvas] });
  const steps = h(doc, "ol", { class: "attnviz-steps" });
  const table = h(doc, "table", { class: "attnviz-math-table" });
  const tableNote = h(doc, "div", { class: "attnviz-description" });
  const keyDetail = h(doc, "div", { class: "attnviz-key-detail", attrs: { "aria-live": "polite" } });
  /** the key row clicked (its value vector and score written out), -1 for none */
  let pickedKey = -1;
  const status = statusLine(doc);
  root.append(title, h(doc, "div", { class: "attnviz-toolbar", children: [blockPick.el, headPick.el, tempField] }), tokens,
    h(doc, "div", { class: "attnviz-math-body", children: [patternBox, h(doc, "div", { class: "attnviz-math-main", children: [steps, table, keyDetail, tableNote] })] }), status.el);

  const T = () => temperatureOf(Number(temp.value));

  function drawPattern() {
    const p = view.floats("pattern");
    const n = p ? p.shape[0] : 0;
    const side = Math.min(240, Math.max(60, n * 8));
    const ctx = context2d(patternCanvas, side, side);
    if (!ctx || !p) return;
    const cell = side / n;
    const causal = Boolean((model.get("facts") ?? {}).causal);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        // the future of a causal model in flat grey, as AttentionView's thumbnails draw it
        ctx.fillStyle = causal && j > i ? "#e4e4e4" : css(color("blues", Math.sqrt(Math.max(0, p.data[i * n + j]))));
        ctx.fillRect(j * cell, i * cell, Math.ceil(cell), Math.ceil(cell));
      }
    }
    const q = Number(model.get("query") ?? 0);
    ctx.strokeStyle = "#e6a100";
    ctx.lineWidth = 2;
    ctx.strokeRect(1, q * cell, side - 2, Math.max(cell, 2));
  }

  function draw() {
    view.draw(() => {
      const toks = /** @type {string[]} */ (model.get("tokens") ?? []);
      const block = Number(model.get("block") ?? 0);
      const head = Number(model.get("head") ?? 0);
      const query = Number(model.get("query") ?? 0);
      const position = Number(model.get("position") ?? 0);
      const facts = model.get("facts") ?? {};
      const m = model.get("math") ?? {};
      /** @param {string} k */
      const f = (k) => (m[k] ? view.floatsOf(k, m[k]) : null);
      const scores = f("scores")?.data ?? new Float32Array(0);
      const weights = f("weights")?.data ?? new Float32Array(0);
      const modelWeights = f("model_weights")?.data ?? new Float32Array(0);
      const keys = f("keys");
      const q = f("q")?.data ?? new Float32Array(0);
      const z = f("z")?.data ?? new Float32Array(0);
      const dh = Number(facts.head_dim ?? q.length);
      blockPick.update(Array.from({ length: Number(model.get("num_blocks") ?? 0) }, (_, i) => ({ value: String(i), text: String(i) })), String(block));
      headPick.update(Array.from({ length: Number(model.get("num_heads") ?? 0) }, (_, i) => ({ value: String(i), text: String(i) })), String(head));
      title.textContent = `Inside block ${block}, head ${head}: the query ${query} ${JSON.stringify(toks[query] ?? "")} attends to earlier tokens`;
      tempText.textContent = `T = ${T().toFixed(2)}${T() === 1 ? " (the model's)" : " (what-if, not the model)"}`;
      tokens.replaceChildren(...toks.map((t, i) => h(doc, "button", {
        class: `attnviz-query-token${i === query ? " attnviz-query-current" : ""}${i > query && facts.causal ? " attnviz-masked" : ""}${i === position ? " attnviz-explained" : ""}`,
        text: t, title: `${i}: ${t}${i === position ? " (the explained position)" : ""}`, attrs: { "data-index": i, "data-lm-suppress-shortcuts": "true", type: "button" },
      })));
      let qNorm = 0;
      for (const v of q) qNorm += v * v;
      let zNorm = 0;
      for (const v of z) zNorm += v * v;
      let maxDiff = 0;
      for (let j = 0; j < weights.length; j++) maxDiff = Math.max(maxDiff, Math.abs(weights[j] - modelWeights[j]));
      const scale = Number(facts.scaling ?? 0);
      const items = [
        [`query vector q (after rotary embeddings where the model has them), ${dh} numbers, ‖q‖ = ${fmt(Math.sqrt(qNorm))}: `, strip(doc, q)],
        [`scores: q·k for every key, times the scale s = ${fmt(scale)} (1/√${dh} = ${fmt(1 / Math.sqrt(dh))})`],
        [facts.causal ? `causal mask: keys after position ${query} get −∞ (the query cannot look ahead)` : "no mask: every key is visible"],
        [`softmax: the weights (they equal the model's attention probabilities; largest difference ${maxDiff.toExponential(1)})`],
        [`output z = Σ weight × value (key/value head ${facts.kv_head ?? head}), ‖z‖ = ${fmt(Math.sqrt(zNorm))}: `, strip(doc, z)],
        [`written into the residual stream: z W_O[${head}]ᵀ, norm ${fmt(Number(facts.write_norm ?? 0))}; direct contribution to ${String(model.get("target_text") ?? "")}: ${Number(facts.direct ?? 0) >= 0 ? "+" : ""}${fmt(Number(facts.direct ?? 0))} (through the final norm at position ${query})`],
      ];
      steps.replaceChildren(...items.map((parts) => h(doc, "li", { children: parts.map((p) => (typeof p === "string" ? doc.createTextNode(p) : p)) })));
      const what = whatIf(scores, T());
      const shown = shownKeys(scores, weights);
      const head_ = h(doc, "tr", { children: ["key", "k", "q·k × s", "weight (model)", `what-if T = ${T().toFixed(2)}`].map((t) => h(doc, "th", { text: t })) });
      const rows = shown.map((j) => h(doc, "tr", {
        class: `${j === query ? "attnviz-self-row" : ""}${j === pickedKey ? " attnviz-picked-row" : ""}`,
        attrs: { "data-key": j, title: "click: this key's score and value" },
        children: [
          h(doc, "td", { text: `${j} ${toks[j] ?? ""}` }),
          h(doc, "td", { children: [keys ? strip(doc, keys.data.subarray(j * dh, (j + 1) * dh), 96) : h(doc, "span")] }),
          h(doc, "td", { class: "attnviz-num", text: fmt(scores[j]) }),
          h(doc, "td", { children: [bar(doc, weights[j], "attnviz-bar-model")] }),
          h(doc, "td", { children: [bar(doc, what[j], "attnviz-bar-whatif")] }),
        ],
      }));
      table.replaceChildren(head_, ...rows);
      if (pickedKey >= 0 && pickedKey < scores.length && Number.isFinite(scores[pickedKey])) {
        const values = f("values");
        keyDetail.replaceChildren(
          doc.createTextNode(`key ${pickedKey} ${JSON.stringify(toks[pickedKey] ?? "")}: q·k × s = ${fmt(scores[pickedKey])}, weight ${weights[pickedKey].toFixed(4)} (model ${modelWeights[pickedKey].toFixed(4)}); its value vector, weighted into z: `),
          values ? strip(doc, values.data.subarray(pickedKey * dh, (pickedKey + 1) * dh)) : h(doc, "span"));
      } else {
        keyDetail.textContent = "click a key row for its score and value vector";
      }
      const masked = scores.length - shown.length - (scores.length - Array.from(scores).filter(Number.isFinite).length);
      tableNote.textContent = `${shown.length} keys listed${masked > 0 ? ` (of ${shown.length + masked} visible: those with the largest weights)` : ""}${facts.causal && query + 1 < toks.length ? `; ${toks.length - query - 1} later keys masked` : ""}.`;
      drawPattern();
      status.update(String(model.get("error") ?? ""));
      return { block, head, query, key: pickedKey, temperature: T().toFixed(2), checksum: checksum([block, head, query, ...Array.from(weights, (v) => Math.round(v * 1e4)), ...Array.from(what, (v) => Math.round(v * 1e4))]) };
    });
  }

  d.listen(tokens, "click", (ev) => {
    const b = ev.target instanceof Element ? ev.target.closest("button") : null;
    if (!b || !kernel) return;
    toKernel({ query: Number(b.getAttribute("data-index")) });
  });
  d.listen(table, "click", (ev) => {
    const row = ev.target instanceof Element ? ev.target.closest("tr[data-key]") : null;
    if (!row) return;
    pickedKey = Number(row.getAttribute("data-key"));
    draw();
  });
  d.listen(patternCanvas, "click", (ev) => {
    const p = view.floats("pattern");
    if (!p || !kernel) return;
    const side = Number.parseFloat(patternCanvas.style.width) || 1;
    const row = Math.floor(canvasPoint(/** @type {MouseEvent} */ (ev), patternCanvas).y / (side / p.shape[0]));
    if (row >= 0 && row < p.shape[0]) toKernel({ query: row });
  });
  d.listen(temp, "input", draw);
  for (const name of ["math", "facts", "pattern", "block", "head", "query", "error", "revision"]) d.on(model, `change:${name}`, draw);
  draw();
  return () => d.dispose();
}

export default { render };
