import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { encodeHalf } from "../src/codec.js";
import { render } from "../src/text_view.js";
import { fakeModel, maps, push, recordingCanvas, textState, trackListeners, unsuppressed, XSS } from "./helpers.js";

let el;
beforeEach(() => {
  el = document.createElement("div");
  document.body.appendChild(el);
  globalThis.alerted = 0;
  globalThis.alert = () => { globalThis.alerted += 1; };
});
afterEach(() => el.remove());

const root = () => el.querySelector(".attnviz-text-view");

describe("TextView colour scale", () => {
  test("a near-uniform map shows its structure by default; the legend names the mode and range; modes switch here", () => {
    const values = [0.05, 0.052, 0.054, 0.06, 0.05, 0.056, 0.058, 0.05];
    const model = fakeModel(textState({ maps: encodeHalf([...values, ...values], [2, 8]), method: "flow",
      method_info: { flow: { description: "f", signed: false, family: "attention" } }, available_methods: ["flow"] }));
    render({ model, el });
    const colours = () => new Set([...el.querySelectorAll(".attnviz-token")].filter((s) => !s.classList.contains("attnviz-special")).map((s) => s.style.background));
    expect(root().getAttribute("data-scale")).toBe("map");
    expect(colours().size).toBe(5);
    expect(el.querySelector(".attnviz-legend-mode").textContent).toMatch(/^per map, min to max: 0\.052 to 0\.06$/);
    const select = el.querySelector(".attnviz-color-scale");
    select.value = "zero";
    select.dispatchEvent(new Event("change"));
    expect(model.state.color_scale).toBe("zero");
    expect(root().getAttribute("data-scale")).toBe("zero");
    expect(el.querySelector(".attnviz-legend-mode").textContent).toMatch(/^from zero: 0 to/);
  });
});

describe("TextView head ablation in the model", () => {
  test("the toggle goes to the kernel; its answer is said beside the original prediction, as text", () => {
    const model = fakeModel(textState({ heads: [[true, false], [false, true]] }));
    render({ model, el });
    const box = el.querySelector(".attnviz-ablate");
    box.checked = true;
    box.dispatchEvent(new Event("change"));
    expect(model.state.ablate).toBe(true);
    expect(root().hasAttribute("data-pending")).toBe(true);
    push(model, { ablated_probs: { dtype: "float32", shape: [2], buffer: new Float32Array([0.8, 0.2]).buffer, scale: 1 }, revision: 1 });
    const line = el.querySelector(".attnviz-ablated");
    expect(line.textContent).toBe("in the model, with the 2 switched-off heads ablated: predicted neg (p = 0.800) · neg: p = 0.800 (was 0.250)");
    expect(line.querySelector("img")).toBeNull();
    box.checked = false;
    box.dispatchEvent(new Event("change"));
    push(model, { ablated_probs: { dtype: "float32", shape: [0], buffer: new ArrayBuffer(0), scale: 1 }, revision: 2 });
    expect(el.querySelector(".attnviz-ablated")).toBeNull();
  });
});

describe("TextView long texts", () => {
  test("a long text gets a scrolled window and a search box that finds a word", () => {
    const units = Array.from({ length: 300 }, (_, i) => (i === 250 ? "needle" : `w${i}`));
    const model = fakeModel(textState({ units, tokens: units, unit_segments: units.map(() => 0), unit_special: units.map(() => false), maps: maps(2, 300) }));
    render({ model, el });
    const rows = el.querySelector(".attnviz-tokens");
    expect(rows.classList.contains("attnviz-tokens-long")).toBe(true);
    const search = el.querySelector(".attnviz-search");
    search.value = "NEEDLE";
    search.dispatchEvent(new Event("input"));
    expect(rows.getAttribute("data-search-current")).toBe("250");
    expect(el.querySelectorAll(".attnviz-token")[250].classList.contains("attnviz-match-current")).toBe(true);
    expect(el.querySelector(".attnviz-search-count").textContent).toBe("1 of 1 (Enter: next)");
  });
});

describe("TextView render", () => {
  test("draws one coloured span per unit, in two segments for a pair", () => {
    const model = fakeModel(textState());
    render({ model, el });
    const spans = el.querySelectorAll(".attnviz-token");
    expect(spans.length).toBe(8);
    expect(el.querySelectorAll(".attnviz-segment").length).toBe(2);
    expect([...el.querySelectorAll(".attnviz-segment-label")].map((s) => s.textContent)).toEqual(["A", "B"]);
    expect(spans[1].style.background).toMatch(/^rgb/);
    expect(spans[0].style.background).toBe("");  // special token, left out of the range
    expect(spans[1].title).toMatch(/^the: /);
    expect(root().getAttribute("data-layer")).toBe("1");
    expect(root().getAttribute("data-method")).toBe("gae");
    expect(root().getAttribute("data-render-count")).toBe("1");
    expect(Number(root().getAttribute("data-last-draw-ms"))).toBeGreaterThanOrEqual(0);
    expect(el.querySelector(".attnviz-prediction").textContent).toContain("(p = 0.750)");
  });

  test("a kernel warning about non-finite logits is said in the prediction line, as text", () => {
    const model = fakeModel(textState());
    render({ model, el });
    expect(el.querySelector(".attnviz-prediction-warning")).toBeNull();
    push(model, { prediction_warning: `the model's output holds NaN or inf ${XSS}` });
    const warning = el.querySelector(".attnviz-prediction-warning");
    expect(warning).not.toBeNull();
    expect(warning.textContent).toContain("NaN or inf");
    expect(warning.querySelector("img")).toBeNull();
    expect(el.querySelector(".attnviz-prediction").classList.contains("attnviz-nonfinite")).toBe(true);
    push(model, { prediction_warning: "" });
    expect(el.querySelector(".attnviz-prediction-warning")).toBeNull();
  });

  test("a 10 kB class label is cut with an ellipsis and kept whole in the tooltip; hover values are readable", () => {
    const long = "a very long label ".repeat(600);
    const model = fakeModel({ ...textState(), label_names: ["neg", long] });
    render({ model, el });
    const predicted = el.querySelector(".attnviz-predicted");
    expect(predicted.textContent.length).toBeLessThanOrEqual(48);
    expect(predicted.title).toBe(long);
    const options = [...el.querySelectorAll(".attnviz-class option")];
    expect(options[1].textContent.length).toBeLessThan(60);
    expect(options[1].title).toBe(long);
    const token = el.querySelectorAll(".attnviz-token")[1];
    expect(token.title).toMatch(/% of max\)$/);
    expect(token.title).not.toMatch(/e-\d/);
  });

  test("markup in tokens, labels and descriptions stays text", () => {
    const model = fakeModel(textState());
    render({ model, el });
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector("b b")).toBeNull();
    const spans = [...el.querySelectorAll(".attnviz-token")];
    expect(spans[3].textContent).toBe(XSS);
    expect(spans[3].childNodes.length).toBe(1);
    expect(spans[3].firstChild.nodeType).toBe(3);  // a text node
    expect(el.querySelector(".attnviz-predicted").textContent).toBe(XSS);
    expect(el.querySelector(".attnviz-description").textContent).toBe("gae <b>desc</b>");
    expect(globalThis.alerted).toBe(0);
  });

  test("the layer slider is answered here: new colours, no message to the kernel but the layer", () => {
    const model = fakeModel(textState());
    render({ model, el });
    const before = root().getAttribute("data-checksum");
    const slider = el.querySelector(".attnviz-layer-slider");
    expect(slider.max).toBe("1");
    slider.value = "0";
    slider.dispatchEvent(new Event("input"));
    expect(model.state.layer).toBe(0);
    expect(root().getAttribute("data-layer")).toBe("0");
    expect(root().getAttribute("data-checksum")).not.toBe(before);
    expect(root().getAttribute("data-render-count")).toBe("2");
    expect(root().hasAttribute("data-pending")).toBe(false);
  });

  test("method and class go to the kernel and wait for its revision", () => {
    const model = fakeModel(textState());
    render({ model, el });
    const select = el.querySelector("select.attnviz-method");
    expect([...select.options].map((o) => o.value)).toEqual(["gae", "rollout", "attcat"]);
    select.value = "attcat";
    select.dispatchEvent(new Event("change"));
    expect(model.state.method).toBe("attcat");
    expect(model.saves).toBe(1);
    expect(root().getAttribute("data-pending")).toBe("true");
    push(model, { maps: maps(2, 8, 5, true), signed: true, revision: 1 });
    expect(root().hasAttribute("data-pending")).toBe(false);
    expect(root().getAttribute("data-revision")).toBe("1");
    expect(el.querySelector(".attnviz-legend").getAttribute("data-cmap")).toBe("rdbu");
    expect(el.querySelector(".attnviz-legend-mid").textContent).toBe("0");
    const cls = el.querySelector("select.attnviz-class");
    cls.value = "0";
    cls.dispatchEvent(new Event("change"));
    expect(model.state.target).toBe(0);
  });

  test("head grid: a cell, a row, a column", () => {
    const model = fakeModel(textState());
    render({ model, el });
    el.querySelector('.attnviz-head-cell[data-layer="1"][data-head="0"]').click();
    expect(model.state.heads).toEqual([[true, true], [false, true]]);
    el.querySelector('.attnviz-head-row[data-layer="0"]').click();
    expect(model.state.heads).toEqual([[false, false], [false, true]]);
    el.querySelector('.attnviz-head-col[data-head="1"]').click();  // not all on: all on
    expect(model.state.heads).toEqual([[false, true], [false, true]]);
    el.querySelector('.attnviz-head-col[data-head="1"]').click();  // all on: all off
    expect(model.state.heads).toEqual([[false, false], [false, false]]);
    el.querySelector(".attnviz-head-all").click();
    expect(model.state.heads).toEqual([[true, true], [true, true]]);
    expect(el.querySelector('.attnviz-head-cell[data-layer="0"][data-head="0"]').getAttribute("aria-pressed")).toBe("true");
  });

  test("head grid is disabled for methods that ignore heads", () => {
    const model = fakeModel(textState({ uses_heads: false, method: "attcat" }));
    render({ model, el });
    expect(el.querySelector(".attnviz-head-cell").disabled).toBe(true);
    expect(el.querySelector(".attnviz-head-note").textContent).toContain("does not read attention heads");
  });

  test("word level: the kernel sends new units and the spans are rebuilt", () => {
    const model = fakeModel(textState());
    render({ model, el });
    const box = el.querySelector(".attnviz-word-level");
    box.checked = true;
    box.dispatchEvent(new Event("change"));
    expect(model.state.word_level).toBe(true);
    push(model, { units: ["[CLS]", "hello", "[SEP]"], unit_segments: [0, 0, 0], unit_special: [true, false, true],
      maps: encodeHalf([1, 2, 3, 4, 5, 6], [2, 3]), revision: 1 });
    expect([...el.querySelectorAll(".attnviz-token")].map((s) => s.textContent)).toEqual(["[CLS]", "hello", "[SEP]"]);
    expect(root().getAttribute("data-num-units")).toBe("3");
  });

  test("every focusable control suppresses notebook shortcuts", () => {
    render({ model: fakeModel(textState()), el });
    expect(unsuppressed(el)).toEqual([]);
    expect(el.querySelectorAll("[data-lm-suppress-shortcuts]").length).toBeGreaterThan(10);
  });

  test("static export disables kernel controls", () => {
    render({ model: fakeModel(textState({ _static: true })), el });
    expect(el.querySelector("select.attnviz-method").disabled).toBe(true);
    expect(el.querySelector(".attnviz-head-cell").disabled).toBe(true);
    expect(el.querySelector(".attnviz-layer-slider").disabled).toBe(false);
    expect(root().getAttribute("data-static")).toBe("true");
  });

  test("the error line shows the kernel's message as text", () => {
    const model = fakeModel(textState());
    render({ model, el });
    push(model, { error: "<b>boom</b>" });
    expect(el.querySelector(".attnviz-status").textContent).toBe("<b>boom</b>");
    expect(el.querySelector(".attnviz-status b")).toBeNull();
  });

  test("PNG: draws the tokens on a canvas, downloads and sends the bytes to the kernel", async () => {
    const rec = recordingCanvas(vi);
    try {
      HTMLCanvasElement.prototype.toBlob = function (cb) { cb(new Blob([new Uint8Array([137, 80, 78, 71])], { type: "image/png" })); };
      URL.createObjectURL = () => "blob:x";
      URL.revokeObjectURL = () => {};
      const model = fakeModel(textState());
      render({ model, el });
      el.querySelector(".attnviz-save").click();
      await new Promise((r) => setTimeout(r, 20));
      expect(rec.calls.fillText).toContain(XSS);
      expect(model.sent.length).toBe(1);
      expect(model.sent[0].content).toEqual({ event: "png", name: "attnviz-gae-block1.png" });
      expect(new Uint8Array(model.sent[0].buffers[0])[0]).toBe(137);
    } finally {
      rec.restore();
      delete HTMLCanvasElement.prototype.toBlob;
    }
  });
});

describe("TextView cleanup", () => {
  test("removes every model handler, DOM listener and the root", () => {
    const tracker = trackListeners(vi);
    try {
      const model = fakeModel(textState());
      const cleanup = render({ model, el });
      expect(model.listenerCount()).toBeGreaterThan(5);
      expect(tracker.active).toBeGreaterThan(5);
      cleanup();
      expect(model.listenerCount()).toBe(0);
      expect(tracker.active).toBe(0);
      expect(el.children.length).toBe(0);
      push(model, { layer: 0 });  // a late change after cleanup touches nothing
    } finally {
      tracker.restore();
    }
  });
});

describe("TextView for a language model", () => {
  const lmState = (over = {}) => textState({
    units: ["the", " movie", " was", " very", " long"], tokens: ["the", " movie", " was", " very", " long"],
    unit_segments: [0, 0, 0, 0, 0], unit_special: [false, false, false, false, false],
    maps: encodeHalf([0.5, 0.3, 0.2, 0, 0, 0.6, 0.3, 0.1, 0, 0], [2, 5]), target_kind: "next token",
    label_names: ["' good'", "' bad'", XSS], probs: encodeHalf([0.5, 0.3, 0.1], [3]), predicted: 0, target: 0,
    foil: -1, explained_unit: 2, unit_unseen: [false, false, false, true, true], ...over,
  });

  test("the next-token picker and the foil picker; the explained token is marked, later tokens are not coloured", () => {
    const model = fakeModel(lmState());
    render({ model, el });
    const picker = el.querySelector(".attnviz-class").closest("label");
    expect(picker.querySelector("span").textContent).toBe("next token");
    const foil = el.querySelector(".attnviz-foil");
    expect(foil.closest("label").hidden).toBe(false);
    expect([...foil.options].map((o) => o.textContent)).toEqual(["— (the token alone)", "' bad'", XSS]);
    expect(el.querySelector(".attnviz-prediction").textContent).toMatch(/^predicted next token: ' good' \(p = 0\.500\)/);
    const spans = [...el.querySelectorAll(".attnviz-token")];
    expect(spans[2].classList.contains("attnviz-explained")).toBe(true);
    expect(spans.filter((s) => s.classList.contains("attnviz-explained")).length).toBe(1);
    expect(spans.map((s) => s.classList.contains("attnviz-unseen"))).toEqual([false, false, false, true, true]);
    expect(spans[3].style.background).toBe("");  // the future is empty, not drawn as zero relevance
    expect(spans[0].style.background).not.toBe("");
    expect(spans[3].title).toMatch(/not seen by the prediction/);
    expect(root().getAttribute("data-explained-unit")).toBe("2");
    foil.value = "1";
    foil.dispatchEvent(new Event("change"));
    expect(model.state.foil).toBe(1);
    push(model, { revision: 1 });
    expect(el.querySelector(".attnviz-prediction").textContent).toContain("versus ' bad' (p = 0.300): the logit difference");
    expect(el.querySelector(".attnviz-prediction img")).toBeNull();
  });

  test("with ablation, the loss of the token that follows in the text, before and after", () => {
    const model = fakeModel(lmState({ next_in_text: 1, ablate: true, heads: [[true, false], [true, true]] }));
    render({ model, el });
    push(model, { ablated_probs: { dtype: "float32", shape: [3], buffer: new Float32Array([0.6, 0.1, 0.2]).buffer, scale: 1 }, revision: 1 });
    const loss = el.querySelector(".attnviz-ablated-loss");
    // probs before 0.3 (as float16), after 0.1: -ln p = 1.204 -> 2.303 nats
    expect(loss.textContent).toMatch(/^ · loss on the text's next token ' bad': 1\.20[45] → 2\.303 nats$/);
  });

  test("a classifier has no foil picker and marks no token", () => {
    const model = fakeModel(textState());
    render({ model, el });
    expect(el.querySelector(".attnviz-foil").closest("label").hidden).toBe(true);
    expect(el.querySelector(".attnviz-class").closest("label").querySelector("span").textContent).toBe("class");
    expect(el.querySelectorAll(".attnviz-explained, .attnviz-unseen").length).toBe(0);
  });
});

describe("TextView hover readout", () => {
  test("after a method, class or versus switch the readout shows the hovered token's value in the new map", () => {
    const model = fakeModel(textState());
    render({ model, el });
    const readout = () => el.querySelector(".attnviz-readout").textContent;
    const token = el.querySelectorAll(".attnviz-token")[2];
    token.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    const before = readout();
    expect(before).toMatch(/^movie: /);
    push(model, { method: "rollout", maps: maps(2, 8, 99), revision: 1 });  // the kernel's answer to a switch
    const after = readout();
    expect(after).toMatch(/^movie: /);
    expect(after).toBe(el.querySelectorAll(".attnviz-token")[2].title);
    expect(after).not.toBe(before);
    el.querySelector(".attnviz-tokens").dispatchEvent(new MouseEvent("mouseleave"));
    push(model, { maps: maps(2, 8, 5), revision: 2 });
    expect(readout().trim()).toBe("");  // nothing hovered: no stale value
  });
});

describe("TextView: which blocks a method reads", () => {
  test("chefer's default reads only the block shown: other blocks' heads are greyed, the slider says 'block'", () => {
    const model = fakeModel(textState({ method: "chefer", reads: [[0, 0], [1, 1]], layer: 1 }));
    render({ model, el });
    const cells = [...el.querySelectorAll(".attnviz-head-cell")];
    const unread = cells.filter((c) => c.classList.contains("attnviz-unread")).map((c) => c.getAttribute("data-layer"));
    expect(unread).toEqual(["0", "0"]);  // block 0's two heads do not change row 1
    expect(el.querySelector(".attnviz-head-note").textContent).toContain("chefer at block 1 reads block 1 alone");
    expect(el.querySelector(".attnviz-layer-label").textContent).toBe("block");
    push(model, { method: "rollout", reads: [[0, 0], [0, 1]], revision: 1 });
    expect(el.querySelectorAll(".attnviz-head-cell.attnviz-unread").length).toBe(0);
    expect(el.querySelector(".attnviz-head-note").textContent).toContain("rollout at block 1 reads blocks 0-1");
    expect(el.querySelector(".attnviz-layer-label").textContent).toBe("through block");
  });
});
