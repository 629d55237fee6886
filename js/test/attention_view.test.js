import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { encodeHalf, halfBits, halfTable } from "../src/codec.js";
import { AXIS_TITLES, COLUMN_TITLES, findTokens, GRID_MARGINS, HEAD_LAYOUT, headViewPlan, LEVELS, render, strongestWeight } from "../src/attention_view.js";
import { canvasPoint, context2d } from "../src/dom.js";
import { rowY, headViewLayout, gridLayout, cellOrigin } from "../src/layout.js";
import { attention, fakeModel, push, recordingCanvas, trackListeners, unsuppressed, XSS } from "./helpers.js";
import { headColor, textColor } from "../src/colormap.js";

function state(B, H, N, over = {}) {
  const tokens = Array.from({ length: N }, (_, i) => (i === 2 ? XSS : `t${i}`));
  return { tokens, segments: tokens.map(() => 0), attention: attention(B, H, N).enc, layer: 0,
    heads: Array.from({ length: B }, () => Array(H).fill(true)), mode: "head", threshold: 0.02, revision: 0, ...over };
}

describe("headViewPlan", () => {
  const { enc } = attention(3, 4, 16, 3);
  const half = halfBits(enc);
  const table = halfTable();
  const brute = (layer, kept, thr, focus) => {
    let n = 0;
    for (let h = 0; h < 4; h++) {
      if (!kept[h]) continue;
      for (let i = 0; i < 16; i++) for (let j = 0; j < 16; j++) {
        if (focus && focus.side === "left" && i !== focus.index) continue;
        if (focus && focus.side === "right" && j !== focus.index) continue;
        if (table[half.bits[((layer * 4 + h) * 16 + i) * 16 + j]] >= thr) n++;
      }
    }
    return n;
  };

  test("draws exactly the weights at or above the threshold", () => {
    for (const thr of [0.001, 0.02, 0.1, 0.5]) {
      expect(headViewPlan(half.bits, half.shape, 1, [true, true, true, true], thr, null).count).toBe(brute(1, [1, 1, 1, 1], thr, null));
    }
  });
  test("kept heads and the hovered token restrict the lines", () => {
    const kept = [true, false, true, false];
    expect(headViewPlan(half.bits, half.shape, 2, kept, 0.02, null).heads.map((x) => x.head)).toEqual([0, 2]);
    for (const focus of [{ side: "left", index: 5 }, { side: "right", index: 0 }]) {
      const plan = headViewPlan(half.bits, half.shape, 2, kept, 0.01, focus);
      expect(plan.count).toBe(brute(2, kept, 0.01, focus));
      for (const { levels } of plan.heads) for (const pairs of levels) for (let p = 0; p < pairs.length; p += 2) {
        expect(focus.side === "left" ? pairs[p] : pairs[p + 1]).toBe(focus.index);
      }
    }
  });
  test("over budget, the weakest lines are left out first", () => {
    const weight = (head, i, j) => table[half.bits[((0 * 4 + head) * 16 + i) * 16 + j]];
    const drawn = (plan) => plan.heads.flatMap(({ head, levels }) => levels.flatMap((pairs) => {
      const out = [];
      for (let p = 0; p < pairs.length; p += 2) out.push(weight(head, pairs[p], pairs[p + 1]));
      return out;
    }));
    const all = headViewPlan(half.bits, half.shape, 0, [true, true, true, true], 0.001, null);
    const flat = encodeHalf(new Array(2 * 1 * 4 * 4).fill(0.25), [1, 2, 4, 4]);  // every weight equal
    const same = headViewPlan(halfBits(flat).bits, [1, 2, 4, 4], 0, [true, true], 0.25, null, 1, 5);
    expect([same.count, same.hidden]).toEqual([5, 27]);
    for (const budget of [1, 50, all.count - 1, all.count, all.count + 5]) {
      const cut = headViewPlan(half.bits, half.shape, 0, [true, true, true, true], 0.001, null, 1, budget);
      expect(cut.count).toBe(Math.min(budget, all.count));
      expect(cut.count + cut.hidden).toBe(all.count);
      const kept = drawn(cut).sort((a, b) => a - b);
      const every = drawn(all).sort((a, b) => b - a);
      expect(kept[0]).toBeGreaterThanOrEqual(every[Math.min(budget, all.count) - 1]);
    }
  });

  test("coverage against its literal definition", () => {
    for (const coverage of [0, 0.3, 0.5, 0.9]) {
      const plan = headViewPlan(half.bits, half.shape, 1, [true, true, true, true], 0.01, null, 1, Infinity, coverage);
      let expected = 0;
      for (let h = 0; h < 4; h++) for (let i = 0; i < 16; i++) {
        const row = Array.from({ length: 16 }, (_, j) => table[half.bits[((1 * 4 + h) * 16 + i) * 16 + j]]);
        const total = row.reduce((a, b) => a + b, 0);
        const sorted = row.filter((w) => w >= 0.01 - 1e-6).sort((a, b) => b - a);
        let acc = 0;
        let k = 0;
        while (k < sorted.length && (k === 0 || acc < coverage * total)) acc += sorted[k++];
        expected += k ? sorted.filter((w) => w >= sorted[k - 1]).length : 0;
      }
      expect(plan.count).toBe(expected);
      expect(plan.count + plan.uncovered).toBe(brute(1, [1, 1, 1, 1], 0.01, null));
    }
  });

  test("a weight lands in the alpha level of its size", () => {
    const plan = headViewPlan(half.bits, half.shape, 0, [true, true, true, true], 0.001, null);
    for (const { head, levels } of plan.heads) levels.forEach((pairs, k) => {
      for (let p = 0; p < pairs.length; p += 2) {
        const w = table[half.bits[((0 * 4 + head) * 16 + pairs[p]) * 16 + pairs[p + 1]]];
        expect(w).toBeGreaterThan(k / LEVELS - 1e-6);
        expect(w).toBeLessThanOrEqual((k + 1) / LEVELS + 1e-6);
      }
    });
  });
});

describe("AttentionView", () => {
  let el;
  let rec;
  beforeEach(() => {
    el = document.createElement("div");
    document.body.appendChild(el);
    rec = recordingCanvas(vi);
  });
  afterEach(() => {
    rec.restore();
    el.remove();
  });
  const root = () => el.querySelector(".attnviz-attention-view");

  test("head view: lines, labels as canvas text, one swatch per head", () => {
    const model = fakeModel(state(2, 3, 10));
    render({ model, el });
    expect(root().getAttribute("data-mode")).toBe("head");
    expect(Number(root().getAttribute("data-lines"))).toBeGreaterThan(0);
    expect(rec.calls.lineTo).toBe(Number(root().getAttribute("data-lines")));
    expect(rec.calls.fillText.filter((t) => t.startsWith(XSS.slice(0, 10))).length).toBe(2);  // canvas text, shortened
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelectorAll(".attnviz-head-swatch").length).toBe(3);
    expect(unsuppressed(el)).toEqual([]);
  });

  test("a blank head view says why and how to change it; columns and axes are titled; swatches stay legible", () => {
    const rec = recordingCanvas(vi);
    const model = fakeModel(state(2, 12, 6, { threshold: 1.0 }));
    render({ model, el });
    expect(root().getAttribute("data-lines")).toBe("0");
    expect(root().getAttribute("data-blank-reason")).toBe("threshold");
    const note = el.querySelector(".attnviz-lines-note").textContent;
    expect(note).toMatch(/no weight of the 12 heads shown reaches the threshold 1 in block 0 \(the largest is 0\.\d+\)/);
    expect(note).toContain("AttentionView(e, threshold=...)");
    expect(rec.calls.fillText).toEqual(expect.arrayContaining(COLUMN_TITLES));
    // the largest weight the note names is the block's largest weight over the kept heads
    const bits = halfBits(model.state.attention);
    const table = halfTable();
    let best = 0;
    for (let k = 0; k < 12 * 36; k++) if (bits[k] < 0x7c00) best = Math.max(best, table[bits[k]]);
    expect(strongestWeight(bits, [2, 12, 6, 6], 0, Array(12).fill(true))).toBe(best);
    // every swatch's text contrasts with its head colour when pressed (head 11 is a light yellow: dark text)
    const swatches = [...el.querySelectorAll(".attnviz-head-swatch")];
    swatches.forEach((s, j) => expect(s.style.getPropertyValue("--attnviz-head-text")).toBe(textColor(headColor(j))));
    expect(textColor(headColor(11))).toBe("#111");
    push(model, { heads: Array.from({ length: 2 }, () => Array(12).fill(false)) });
    expect(root().getAttribute("data-blank-reason")).toBe("heads");
    expect(el.querySelector(".attnviz-lines-note").textContent).toContain("every head of this block is switched off");
    push(model, { mode: "model" });
    expect(rec.calls.fillText).toEqual(expect.arrayContaining(AXIS_TITLES));
    rec.restore();
  });

  test("slider, head toggles and hover change the drawing without the kernel recomputing", () => {
    const model = fakeModel(state(2, 3, 10));
    render({ model, el });
    const seen = new Set([root().getAttribute("data-checksum")]);
    const slider = el.querySelector(".attnviz-layer-slider");
    slider.value = "1";
    slider.dispatchEvent(new Event("input"));
    expect(root().getAttribute("data-layer")).toBe("1");
    seen.add(root().getAttribute("data-checksum"));
    el.querySelector('.attnviz-head-swatch[data-head="1"]').click();
    expect(model.state.heads[1]).toEqual([true, false, true]);
    expect(root().getAttribute("data-heads-on")).toBe("2");
    seen.add(root().getAttribute("data-checksum"));
    el.querySelector('.attnviz-head-swatch[data-head="2"]').dispatchEvent(new MouseEvent("click", { shiftKey: true, bubbles: true }));
    expect(model.state.heads[1]).toEqual([false, false, true]);
    const canvas = el.querySelector(".attnviz-head-canvas");
    canvas.getBoundingClientRect = () => ({ left: 0, top: 0, width: parseFloat(canvas.style.width), height: parseFloat(canvas.style.height) });
    const L = headViewLayout(10, HEAD_LAYOUT);
    const all = Number(root().getAttribute("data-lines"));
    canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: 20, clientY: rowY(L, 4) }));
    expect(root().getAttribute("data-focus")).toBe("left:4");
    expect(Number(root().getAttribute("data-lines"))).toBeLessThanOrEqual(all);
    expect(el.querySelector(".attnviz-readout").textContent).toContain('"t4"');
    canvas.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown" }));
    expect(root().getAttribute("data-focus")).toBe("left:5");
    canvas.dispatchEvent(new MouseEvent("mouseleave"));
    expect(root().getAttribute("data-focus")).toBe("");
    seen.add(root().getAttribute("data-checksum"));
    expect(seen.size).toBe(4);
    el.querySelector(".attnviz-head-all").click();
    expect(model.state.heads.flat().every(Boolean)).toBe(true);
  });

  test("model view: B x H thumbnails, a click opens one in the head view", () => {
    const model = fakeModel(state(2, 3, 10));
    render({ model, el });
    el.querySelector(".attnviz-mode-model").click();
    expect(model.state.mode).toBe("model");
    expect(root().getAttribute("data-mode")).toBe("model");
    expect(rec.calls.drawImage).toBeGreaterThanOrEqual(6);
    const canvas = el.querySelector(".attnviz-model-canvas");
    canvas.getBoundingClientRect = () => ({ left: 0, top: 0, width: parseFloat(canvas.style.width), height: parseFloat(canvas.style.height) });
    const o = cellOrigin(gridLayout(2, 3, { cell: 56, ...GRID_MARGINS }), 1, 2);
    canvas.dispatchEvent(new MouseEvent("click", { clientX: o.x + 3, clientY: o.y + 3 }));
    expect(model.state.mode).toBe("head");
    expect(model.state.layer).toBe(1);
    expect(model.state.heads[1]).toEqual([false, false, true]);
    expect(root().getAttribute("data-mode")).toBe("head");
    expect(el.querySelector(".attnviz-model-canvas").hidden).toBe(true);
  });

  test("the readout belongs to the canvas on show: switching views clears it", () => {
    const model = fakeModel(state(2, 3, 10));
    render({ model, el });
    el.querySelector(".attnviz-mode-model").click();
    const canvas = el.querySelector(".attnviz-model-canvas");
    canvas.getBoundingClientRect = () => ({ left: 0, top: 0, width: parseFloat(canvas.style.width), height: parseFloat(canvas.style.height) });
    const o = cellOrigin(gridLayout(2, 3, { cell: 56, ...GRID_MARGINS }), 1, 2);
    canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: o.x + 3, clientY: o.y + 3 }));
    expect(el.querySelector(".attnviz-readout").textContent).toContain("block 1, head 2 (click to open)");
    canvas.dispatchEvent(new MouseEvent("click", { clientX: o.x + 3, clientY: o.y + 3 }));
    expect(root().getAttribute("data-mode")).toBe("head");
    expect(el.querySelector(".attnviz-readout").textContent.trim()).toBe("");
  });

  test("512 tokens: rows tall enough for a label on a canvas scrolled in its window; one block scanned per draw", () => {
    const model = fakeModel(state(1, 2, 512, { threshold: 0.01 }));
    render({ model, el });
    expect(Number(root().getAttribute("data-rows-px"))).toBeGreaterThanOrEqual(11);
    const canvas = el.querySelector(".attnviz-head-canvas");
    expect(parseFloat(canvas.style.height)).toBeLessThanOrEqual(HEAD_LAYOUT.maxCanvas);
    expect(rec.calls.fillText.filter((t) => t === "t511").length).toBe(2);  // every token labelled on both sides
    expect(Number(root().getAttribute("data-lines"))).toBeLessThanOrEqual(6000);
    expect(root().getAttribute("data-num-tokens")).toBe("512");
    expect(Number(root().getAttribute("data-last-draw-ms"))).toBeLessThan(2000);
  });

  test("on-demand blocks: the first message's block draws, neighbours are asked for, a missing block says it is loading", () => {
    const full = attention(4, 2, 6, 5);
    const half = halfBits(full.enc);
    const per = 2 * 6 * 6;
    const blockEnc = (l) => encodeHalf(Array.from(full.values.subarray(l * per, (l + 1) * per)), [1, 2, 6, 6]);
    const model = fakeModel(state(4, 2, 6, { attention: blockEnc(1), attention_blocks: [1], attention_shape: [4, 2, 6, 6], layer: 1 }));
    render({ model, el });
    expect(Number(root().getAttribute("data-lines"))).toBeGreaterThan(0);
    expect(root().getAttribute("data-loading")).toBeNull();
    expect(model.sent.map((m) => m.content)).toEqual([{ event: "attention_blocks", layers: [2, 0, 3] }]);
    const drawnAt1 = root().getAttribute("data-checksum");
    push(model, { layer: 3 });
    expect(root().getAttribute("data-loading")).toBe("3");
    expect(el.querySelector(".attnviz-lines-note").textContent).toBe("loading block 3 from the kernel…");
    expect(model.sent.length).toBe(1);  // 3 was already asked for: not asked twice
    const bytes = new Uint8Array(half.bits.buffer.slice(3 * per * 2, 4 * per * 2));
    model.emit("msg:custom", { event: "attention_block", layer: 3, shape: [1, 2, 6, 6] }, [new DataView(bytes.buffer)]);
    expect(root().getAttribute("data-loading")).toBeNull();
    expect(root().getAttribute("data-layer")).toBe("3");
    // the same drawing as with the whole tensor sent at once
    el.replaceChildren();
    const whole = fakeModel(state(4, 2, 6, { attention: full.enc, layer: 3 }));
    render({ model: whole, el });
    const wholeAt3 = el.querySelector(".attnviz-attention-view").getAttribute("data-checksum");
    push(whole, { layer: 1 });
    expect(el.querySelector(".attnviz-attention-view").getAttribute("data-checksum")).toBe(drawnAt1);
    expect(wholeAt3).not.toBe(drawnAt1);
  });

  test("search: a word jumps to its token, Enter walks the matches, no match is said", () => {
    const model = fakeModel(state(1, 2, 10, { tokens: ["[CLS]", "the", "##cat", "sat", "on", "the", "mat", ".", "[SEP]", "x"] }));
    render({ model, el });
    expect(findTokens(["Ġthe", "##cat", "Cat"], "cat")).toEqual([1, 2]);
    const search = el.querySelector(".attnviz-search");
    search.value = "the";
    search.dispatchEvent(new Event("input"));
    expect(root().getAttribute("data-focus")).toBe("left:1");
    expect(el.querySelector(".attnviz-search-count").textContent).toBe("1 of 2 (Enter: next)");
    search.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    expect(root().getAttribute("data-focus")).toBe("left:5");
    search.value = "cat";
    search.dispatchEvent(new Event("input"));
    expect(root().getAttribute("data-focus")).toBe("left:2");
    search.value = "zebra";
    search.dispatchEvent(new Event("input"));
    expect(el.querySelector(".attnviz-search-count").textContent).toBe("no match");
  });

  test("coverage: each query's strongest lines holding that share of its attention; hover shows all", () => {
    const model = fakeModel(state(1, 3, 12, { threshold: 0, coverage: 0.5 }));
    render({ model, el });
    const partial = Number(root().getAttribute("data-lines"));
    const uncovered = Number(root().getAttribute("data-lines-uncovered"));
    expect(partial).toBeGreaterThanOrEqual(36);  // at least one line per query and head
    expect(el.querySelector(".attnviz-lines-note").textContent).toContain("holding 50% of its attention");
    push(model, { coverage: 1 });
    expect(Number(root().getAttribute("data-lines"))).toBe(partial + uncovered);
    expect(partial).toBeLessThan((partial + uncovered) / 2);
  });

  test("projector mode: the scale trait zooms the view; canvases stay sharp and hits stay on their token", () => {
    const model = fakeModel(state(1, 2, 10, { scale: 2 }));
    render({ model, el });
    expect(root().style.zoom).toBe("2");
    expect(root().getAttribute("data-scale-factor")).toBe("2");
    const canvas = el.querySelector(".attnviz-head-canvas");
    expect(canvas.width).toBe(2 * parseFloat(canvas.style.width));  // backing store at the zoomed size
    canvas.getBoundingClientRect = () => ({ left: 0, top: 0, width: 2 * parseFloat(canvas.style.width), height: 2 * parseFloat(canvas.style.height) });
    const L = headViewLayout(10, HEAD_LAYOUT);
    canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: 40, clientY: 2 * rowY(L, 6) }));
    expect(root().getAttribute("data-focus")).toBe("left:6");
    push(model, { scale: 1 });
    expect(root().style.zoom).toBe("");
    const c = document.createElement("canvas");
    context2d(c, 100, 50);
    c.getBoundingClientRect = () => ({ left: 10, top: 0, width: 50, height: 25 });  // shrunk by max-width
    expect(canvasPoint(new MouseEvent("mousemove", { clientX: 35, clientY: 5 }), c)).toEqual({ x: 50, y: 10 });
  });

  test("model view coloured by a head-type score: the picker, the values in the cells, the readout", () => {
    const scores = new Float32Array([0.1, 0.9, 0.2, 0.3, 0.4, 0.5]);
    const model = fakeModel(state(2, 3, 6, { mode: "model",
      head_scores: { induction: { dtype: "float32", shape: [2, 3], buffer: scores.buffer, scale: 1 } } }));
    render({ model, el });
    const picker = el.querySelector(".attnviz-color-heads");
    expect(picker.hidden).toBe(false);
    const plain = root().getAttribute("data-checksum");
    picker.value = "induction";
    picker.dispatchEvent(new Event("change"));
    expect(model.state.color_heads).toBe("induction");
    expect(root().getAttribute("data-color-heads")).toBe("induction");
    expect(root().getAttribute("data-checksum")).not.toBe(plain);
    expect(rec.calls.fillText).toEqual(expect.arrayContaining(["0.90", "0.10"]));
    const canvas = el.querySelector(".attnviz-model-canvas");
    canvas.getBoundingClientRect = () => ({ left: 0, top: 0, width: parseFloat(canvas.style.width), height: parseFloat(canvas.style.height) });
    const o = cellOrigin(gridLayout(2, 3, { cell: 56, ...GRID_MARGINS }), 0, 1);
    canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: o.x + 3, clientY: o.y + 3 }));
    expect(el.querySelector(".attnviz-readout").textContent).toBe("block 0, head 1, induction score 0.9 (click to open)");
  });

  test("cleanup", () => {
    const tracker = trackListeners(vi);
    try {
      const model = fakeModel(state(2, 2, 6));
      const cleanup = render({ model, el });
      cleanup();
      expect(model.listenerCount()).toBe(0);
      expect(tracker.active).toBe(0);
      expect(el.children.length).toBe(0);
    } finally {
      tracker.restore();
    }
  });
});

describe("AttentionView of a decoder", () => {
  test("the thumbnails draw the causal upper triangle as empty grey, not as zero weight", () => {
    const images = [];
    const ctx = new Proxy({}, {
      get(target, prop) {
        if (prop in target) return target[prop];
        if (prop === "measureText") return (s) => ({ width: 7 * String(s).length });
        if (prop === "putImageData") return (img) => images.push(img);
        return () => {};
      },
      set(target, prop, value) { target[prop] = value; return true; },
    });
    if (typeof globalThis.ImageData === "undefined") {
      globalThis.ImageData = class { constructor(data, w, h) { this.data = data; this.width = w; this.height = h; } };
    }
    const spy = vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockImplementation(() => ctx);
    try {
      for (const causal of [true, false]) {
        images.length = 0;
        const host = document.createElement("div");
        document.body.appendChild(host);
        const model = fakeModel(state(1, 2, 6, { causal, mode: "model" }));
        render({ model, el: host });
        expect(images.length).toBe(2);
        const img = images[0];
        const t = img.width;
        const px = (r, c) => Array.from(img.data.slice(4 * (r * t + c), 4 * (r * t + c) + 3));
        expect(px(0, t - 1)).toEqual(causal ? [222, 222, 222] : px(0, t - 1));
        if (causal) {
          expect(px(t - 1, 0)).not.toEqual([222, 222, 222]);
          expect(host.querySelector(".attnviz-lines-note, .attnviz-note")?.textContent ?? host.textContent).toMatch(/grey upper triangle/);
        } else {
          expect(px(0, t - 1)).not.toEqual([222, 222, 222]);
        }
        host.remove();
      }
    } finally {
      spy.mockRestore();
    }
  });
});

describe("context2d", () => {
  test("a canvas too tall for the pixel ratio keeps fewer backing pixels instead of going blank", async () => {
    const { MAX_CANVAS_SIDE } = await import("../src/dom.js");
    const spy = vi.spyOn(HTMLCanvasElement.prototype, "getContext").mockImplementation(() => ({ setTransform() {} }));
    const saved = globalThis.devicePixelRatio;
    try {
      globalThis.devicePixelRatio = 3;
      const c = document.createElement("canvas");
      context2d(c, 600, 11 * 1024 + 40);
      expect(c.height).toBeLessThanOrEqual(MAX_CANVAS_SIDE);
      expect(c.height).toBeGreaterThan(2 * (11 * 1024 + 40));
      expect(c.style.height).toBe(`${11 * 1024 + 40}px`);
      const small = document.createElement("canvas");
      context2d(small, 100, 50);
      expect([small.width, small.height]).toEqual([300, 150]);
    } finally {
      globalThis.devicePixelRatio = saved;
      spy.mockRestore();
    }
  });
});
