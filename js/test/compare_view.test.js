import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { encodeHalf } from "../src/codec.js";
import { unit } from "../src/colormap.js";
import { panelRanges, render, scoreText } from "../src/compare_view.js";
import { fakeModel, maps, push, recordingCanvas, trackListeners, unsuppressed, XSS } from "./helpers.js";

function state(over = {}) {
  const units = ["[CLS]", "good", XSS, "[SEP]"];
  return {
    kind: "text", methods: ["gae", "attcat"], available_methods: ["gae", "attcat", "rollout"],
    method_info: { gae: { description: "g" }, attcat: { description: "a" } },
    maps: [maps(2, 4, 1), maps(2, 4, 2, true)], signed: [false, true], scores: {}, shared_scale: false,
    layer: 1, heads: [[true, true], [true, true]], uses_heads: true, target: 0, label_names: ["neg", "pos"],
    probs: encodeHalf([0.3, 0.7], [2]), predicted: 1, units, unit_segments: [0, 0, 0, 0],
    unit_special: [true, false, false, true], ignore_special: true, colormap: "auto", error: "", revision: 0, ...over,
  };
}

let el;
beforeEach(() => {
  el = document.createElement("div");
  document.body.appendChild(el);
});
afterEach(() => el.remove());
const root = () => el.querySelector(".attnviz-compare-view");

describe("panelRanges and scores", () => {
  test("shared means rank: methods of different units stay visible; not shared, each panel on its own scale", () => {
    const rows = [[0.01, 0.02, 0.03], [-300, 100, 200]];
    const kinds = [{ signed: false, family: "attention" }, { signed: true, family: "lrp" }];
    const shared = panelRanges(rows, kinds, { shared: true });
    expect(shared.map((r) => r.mode)).toEqual(["rank", "rank"]);
    // under one value range (the old union) the first panel would be blank: 0.03 / 300 = 1e-4 of the scale
    expect(unit(shared[0], 0.03)).toBe(1);
    expect(unit(shared[0], 0.01)).toBe(0);
    expect(unit(shared[1], -300)).toBe(0);
    expect(unit(shared[1], 100)).toBe(0.5);
    expect(unit(shared[1], 200)).toBe(0.75);
    const own = panelRanges(rows, kinds, { shared: false });
    expect(own.map((r) => r.mode)).toEqual(["map", "symmetric"]);
    expect([own[0].lo, own[0].hi]).toEqual([0.01, 0.03]);
    expect([own[1].lo, own[1].hi]).toEqual([-300, 300]);
    const blocks = panelRanges([[0.5, 1]], [{ signed: false }], { shared: false, mode: "blocks", all: () => [[0, 0.1], [0.5, 1], [2, 4]] });
    expect([blocks[0].lo, blocks[0].hi]).toEqual([0, 4]);
  });
  test("score text", () => {
    expect(scoreText(undefined)).toBe("");
    expect(scoreText(0.5)).toBe("score 0.5");
    expect(scoreText({ aopc: 0.25, comprehensiveness: 0.125 })).toBe("aopc 0.25 · comprehensiveness 0.125");
  });
});

describe("CompareView", () => {
  test("one panel per method, each with its own legend; markup stays text", () => {
    const model = fakeModel(state());
    render({ model, el });
    const panels = el.querySelectorAll(".attnviz-compare-panel");
    expect([...panels].map((p) => p.getAttribute("data-method"))).toEqual(["gae", "attcat"]);
    expect(panels[0].querySelectorAll(".attnviz-token").length).toBe(4);
    expect(panels[1].querySelector(".attnviz-legend").getAttribute("data-cmap")).toBe("rdbu");
    expect(panels[0].querySelectorAll(".attnviz-token")[2].textContent).toBe(XSS);
    expect(el.querySelector("img")).toBeNull();
    expect(root().getAttribute("data-methods")).toBe("gae,attcat");
    expect(unsuppressed(el)).toEqual([]);
  });

  test("scores appear when the evaluation code fills them", () => {
    const model = fakeModel(state());
    render({ model, el });
    expect(el.querySelector(".attnviz-score").textContent).toBe("");
    push(model, { scores: { gae: { aopc: 0.5 }, attcat: 0.25 } });
    expect([...el.querySelectorAll(".attnviz-score")].map((s) => s.textContent)).toEqual(["aopc 0.5", "score 0.25"]);
  });

  test("shared scale and the layer slider are answered here", () => {
    const model = fakeModel(state());
    render({ model, el });
    const seen = new Set([root().getAttribute("data-checksum")]);
    const box = el.querySelector(".attnviz-shared-scale");
    box.checked = true;
    box.dispatchEvent(new Event("change"));
    expect(model.state.shared_scale).toBe(true);
    expect(root().getAttribute("data-shared-scale")).toBe("true");
    seen.add(root().getAttribute("data-checksum"));
    const his = [...el.querySelectorAll(".attnviz-legend")].map((l) => Math.abs(Number(l.getAttribute("data-hi"))));
    expect(his[0]).toBe(his[1]);
    const slider = el.querySelector(".attnviz-layer-slider");
    slider.value = "0";
    slider.dispatchEvent(new Event("input"));
    seen.add(root().getAttribute("data-checksum"));
    expect(seen.size).toBe(3);
  });

  test("add and remove methods go to the kernel", () => {
    const model = fakeModel(state());
    render({ model, el });
    const add = el.querySelector("select.attnviz-add-method");
    expect([...add.options].map((o) => o.value)).toEqual(["", "rollout"]);
    add.value = "rollout";
    add.dispatchEvent(new Event("change"));
    expect(model.state.methods).toEqual(["gae", "attcat", "rollout"]);
    expect(root().getAttribute("data-pending")).toBe("true");
    push(model, { maps: [...model.state.maps, maps(2, 4, 3)], signed: [false, true, false], revision: 1 });
    expect(el.querySelectorAll(".attnviz-compare-panel").length).toBe(3);
    el.querySelector('.attnviz-remove[data-method="gae"]').click();
    expect(model.state.methods).toEqual(["attcat", "rollout"]);
  });

  test("image panels draw overlays", () => {
    const rec = recordingCanvas(vi);
    try {
      const img = new Uint8Array(4 * 4 * 3).fill(100);
      const model = fakeModel(state({ kind: "image", units: [], image: { dtype: "uint8", shape: [4, 4, 3], buffer: new DataView(img.buffer) },
        patch_grid: [2, 2], maps: [maps(2, 4, 1), maps(2, 4, 2, true)], size: 32, opacity: 0.5 }));
      render({ model, el });
      expect(el.querySelectorAll(".attnviz-panel-canvas").length).toBe(2);
      expect(rec.calls.putImageData).toBe(4);
      expect(root().getAttribute("data-checksum")).not.toBe("empty");
    } finally {
      rec.restore();
    }
  });

  test("cleanup", () => {
    const tracker = trackListeners(vi);
    try {
      const model = fakeModel(state());
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

describe("CompareView of a language model", () => {
  test("every panel marks the explained token and leaves the tokens after it uncoloured", () => {
    const model = fakeModel(state({ units: ["the", "cat", "sat", "down"], unit_special: [false, false, false, false],
      target_kind: "next token", label_names: ["' on'", "' in'"], explained_unit: 1, unit_unseen: [false, false, true, true] }));
    render({ model, el });
    expect(el.querySelector(".attnviz-class").closest("label").querySelector("span").textContent).toBe("next token");
    const foil = el.querySelector(".attnviz-foil");
    expect(foil.closest("label").hidden).toBe(false);
    foil.value = "1";
    foil.dispatchEvent(new Event("change"));
    expect(model.state.foil).toBe(1);
    const panels = [...el.querySelectorAll(".attnviz-tokens")];
    expect(panels.length).toBe(2);
    for (const p of panels) {
      const spans = [...p.querySelectorAll(".attnviz-token")];
      expect(spans.map((s) => s.classList.contains("attnviz-explained"))).toEqual([false, true, false, false]);
      expect(spans.map((s) => s.classList.contains("attnviz-unseen"))).toEqual([false, false, true, true]);
      expect(spans.map((s) => s.style.background === "")).toEqual([false, false, true, true]);
    }
  });
});

test("a classifier's CompareView has no foil picker", () => {
  const model = fakeModel(state());
  render({ model, el });
  expect(el.querySelector(".attnviz-foil").closest("label").hidden).toBe(true);
});

describe("CompareView notes", () => {
  test("a method's note (an LRP map whose relevance is not conserved) shows in its own panel, as text", () => {
    const model = fakeModel(state());
    render({ model, el });
    const notes = () => [...el.querySelectorAll(".attnviz-compare-panel .attnviz-method-note")];
    expect(notes().every((n) => n.hidden)).toBe(true);
    push(model, { notes: { attcat: `relevance sums to 3e5 ${XSS}` }, revision: 1 });
    expect(notes()[0].hidden).toBe(true);
    expect(notes()[1].hidden).toBe(false);
    expect(notes()[1].textContent).toBe(`relevance sums to 3e5 ${XSS}`);
    expect(el.querySelector("img")).toBeNull();
  });
});
