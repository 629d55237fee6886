import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { encodeHalf } from "../src/codec.js";
import { render } from "../src/image_view.js";
import { fakeModel, maps, push, recordingCanvas, trackListeners, unsuppressed, XSS } from "./helpers.js";

function imageState(over = {}) {
  const img = new Uint8Array(8 * 8 * 3).map((_, k) => (k * 7) % 256);
  return {
    image: { dtype: "uint8", shape: [8, 8, 3], buffer: new DataView(img.buffer) }, patch_grid: [2, 2],
    maps: maps(3, 4, 7), signed: false, method: "rollout", available_methods: ["rollout", "gae"],
    method_info: { rollout: { description: "rollout" } }, target: 1, label_names: ["cat", XSS],
    probs: encodeHalf([0.4, 0.6], [2]), predicted: 1, layer: 2, heads: [[true], [true], [true]], uses_heads: true,
    colormap: "auto", opacity: 0.5, size: 64, selected_patch: -1, attention_patch: -1,
    patch_attention: { dtype: "float16", shape: [0], buffer: new DataView(new ArrayBuffer(0)) },
    error: "", revision: 0, ...over,
  };
}

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
const root = () => el.querySelector(".attnviz-image-view");

describe("ImageView", () => {
  test("draws the image and the overlay, stamps the root", () => {
    const model = fakeModel(imageState());
    render({ model, el });
    expect(root().getAttribute("data-layer")).toBe("2");
    expect(root().getAttribute("data-selected-patch")).toBe("-1");
    expect(rec.calls.putImageData).toBe(2);  // the image, the overlay
    expect(el.querySelector(".attnviz-legend").getAttribute("data-cmap")).toBe("inferno");
    expect(el.querySelector(".attnviz-predicted").textContent).toBe(XSS);
    expect(el.querySelector("img")).toBeNull();
    expect(unsuppressed(el)).toEqual([]);
  });

  test("layer slider, opacity and colormap change the drawing", () => {
    const model = fakeModel(imageState());
    render({ model, el });
    const seen = new Set([root().getAttribute("data-checksum")]);
    const slider = el.querySelector(".attnviz-layer-slider");
    slider.value = "0";
    slider.dispatchEvent(new Event("input"));
    expect(model.state.layer).toBe(0);
    seen.add(root().getAttribute("data-checksum"));
    const opacity = el.querySelector(".attnviz-opacity");
    opacity.value = "0.9";
    opacity.dispatchEvent(new Event("input"));
    expect(model.state.opacity).toBe(0.9);
    seen.add(root().getAttribute("data-checksum"));
    const cmap = el.querySelector("select.attnviz-colormap");
    cmap.value = "viridis";
    cmap.dispatchEvent(new Event("change"));
    seen.add(root().getAttribute("data-checksum"));
    expect(seen.size).toBe(4);
  });

  test("clicking a patch asks the kernel; its answer is drawn only once it is for that patch", () => {
    const model = fakeModel(imageState());
    render({ model, el });
    const canvas = el.querySelector(".attnviz-image-canvas");
    canvas.getBoundingClientRect = () => ({ left: 10, top: 20, width: 64, height: 64, right: 74, bottom: 84 });
    canvas.dispatchEvent(new MouseEvent("click", { clientX: 10 + 40, clientY: 20 + 5 }));
    expect(model.state.selected_patch).toBe(1);  // row 0, column 1
    expect(root().getAttribute("data-pending")).toBe("true");
    expect(root().getAttribute("data-selected-patch")).toBe("-1");  // still the map until the answer
    push(model, { patch_attention: encodeHalf([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0], [3, 2, 2]), attention_patch: 1, revision: 1 });
    expect(root().getAttribute("data-selected-patch")).toBe("1");
    expect(el.querySelector(".attnviz-mode").textContent).toContain("patch (0, 1)");
    el.querySelector(".attnviz-clear-patch").click();
    expect(model.state.selected_patch).toBe(-1);
    expect(root().getAttribute("data-selected-patch")).toBe("-1");
  });

  test("keyboard: arrows move a patch cursor, Enter selects it, Escape clears", () => {
    const model = fakeModel(imageState());
    render({ model, el });
    const canvas = el.querySelector(".attnviz-image-canvas");
    const key = (k) => canvas.dispatchEvent(new KeyboardEvent("keydown", { key: k }));
    key("ArrowRight");
    expect(root().getAttribute("data-cursor")).toBe("0,0");
    key("ArrowRight");
    key("ArrowDown");
    key("ArrowDown");  // clamped to the grid
    expect(root().getAttribute("data-cursor")).toBe("1,1");
    expect(el.querySelector(".attnviz-readout").textContent).toContain("patch (1, 1)");
    key("Enter");
    expect(model.state.selected_patch).toBe(3);
    key("Escape");
    expect(model.state.selected_patch).toBe(-1);
  });

  test("the readout follows the picture: the kernel's answer to a patch click replaces the hover text", () => {
    const model = fakeModel(imageState());
    render({ model, el });
    const canvas = el.querySelector(".attnviz-image-canvas");
    const readout = () => el.querySelector(".attnviz-readout").textContent;
    canvas.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowRight" }));
    expect(readout()).toContain("Enter: show its attention");
    push(model, { selected_patch: 0, attention_patch: 0, patch_attention: maps(3, 4, 5) });  // the kernel answers (0, 0)
    expect(root().getAttribute("data-selected-patch")).toBe("0");
    expect(readout()).toContain("showing the attention from patch (0, 0)");
    expect(readout()).not.toContain("Enter");
    push(model, { selected_patch: -1, attention_patch: -1 });
    expect(root().getAttribute("data-selected-patch")).toBe("-1");
    expect(readout().trim()).toBe("");
  });

  test("multi-label: the header names every class at p >= 0.5, most probable first, as text", () => {
    const model = fakeModel(imageState({ multi_label: true, label_names: ["cat", XSS, "dog"],
      probs: encodeHalf([0.75, 0.9375, 0.25], [3]), predicted: 1, target: 0 }));
    render({ model, el });
    const named = [...el.querySelectorAll(".attnviz-predicted")].map((b) => b.textContent);
    expect(named).toEqual([XSS, "cat"]);
    expect(el.querySelector(".attnviz-prediction").textContent).toContain("present (p ≥ 0.5): ");
    expect(el.querySelector(".attnviz-prediction img")).toBeNull();
    expect(el.querySelector(".attnviz-target").textContent).toBe("cat");
    push(model, { probs: encodeHalf([0.25, 0.125, 0.375], [3]) });
    expect(el.querySelectorAll(".attnviz-predicted").length).toBe(0);
    expect(el.querySelector(".attnviz-predicted-none").textContent).toBe("none");
  });

  test("signed methods use the diverging map", () => {
    const model = fakeModel(imageState({ signed: true, maps: maps(3, 4, 9, true) }));
    render({ model, el });
    expect(el.querySelector(".attnviz-legend").getAttribute("data-cmap")).toBe("rdbu");
  });

  test("cleanup", () => {
    const tracker = trackListeners(vi);
    try {
      const model = fakeModel(imageState());
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

describe("ImageView hover readout", () => {
  test("the hovered patch's readout follows a new map; the patch note names the button it means", () => {
    const model = fakeModel(imageState());
    render({ model, el });
    const canvas = el.querySelector(".attnviz-image-canvas");
    const readout = () => el.querySelector(".attnviz-readout").textContent;
    canvas.dispatchEvent(new MouseEvent("mousemove", { clientX: 0, clientY: 0 }));
    const before = readout();
    expect(before).toMatch(/^patch \(0, 0\): /);
    push(model, { method: "gae", maps: maps(3, 4, 42), revision: 1 });
    expect(readout()).toMatch(/^patch \(0, 0\): /);
    expect(readout()).not.toBe(before);
    push(model, { selected_patch: 0, attention_patch: 0, patch_attention: maps(3, 4, 5) });
    expect(readout()).toContain('"back to relevance" goes back');
    expect(el.querySelector(".attnviz-clear-patch").textContent).toBe("back to relevance");
  });
});
