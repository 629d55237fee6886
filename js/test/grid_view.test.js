import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { cellAt, drawGrid, fitLabel, gridPlan, gridRange } from "../src/grid_draw.js";
import { cellReadout, render } from "../src/grid_view.js";
import { fakeModel, push, recordingCanvas, XSS } from "./helpers.js";

const f32 = (values, shape) => ({ dtype: "float32", shape, buffer: new Float32Array(values).buffer, scale: 1 });

function gridState(extra = {}) {
  return {
    kind: "logit lens", title: "Logit lens", note: "row l: after block l", summary: "appears after block 1",
    row_title: "after block", col_title: "position", row_labels: ["0", "1"], col_labels: ["0 the", "1 cat", "2 sat"],
    values: f32([0.1, 0.2, 0.3, 0.4, 0.5, 0.9], [2, 3]), value_label: "p(' mat')", signed: false, fixed_range: [0, 1],
    cell_text: [["a", "b", "c"], ["d", "e", "f"]], hover_text: [], marked_col: 2, marked_cells: [], layer: 1,
    pickers: [{ name: "token", label: "token", value: "5", options: [{ value: "5", text: "' mat'" }, { value: "7", text: "' dog'" }] }],
    choices: { token: "5" }, selected: [], error: "", revision: 0, scale: 1, ...extra,
  };
}

describe("grid layout and drawing (pure)", () => {
  test("plan and hit test: cells map back to their row and column; labels and margins hit nothing", () => {
    const P = gridPlan(3, 4);
    expect(cellAt(P, P.left + 0.5, P.top + 0.5)).toEqual({ row: 0, col: 0 });
    expect(cellAt(P, P.left + 3 * P.cellW + 1, P.top + 2 * P.cellH + 1)).toEqual({ row: 2, col: 3 });
    expect(cellAt(P, P.left - 1, P.top + 1)).toBeNull();
    expect(cellAt(P, P.left + 4 * P.cellW + 1, P.top + 1)).toBeNull();
    expect(gridPlan(2, 200, { cellText: true }).cellW).toBeGreaterThan(gridPlan(2, 200).cellW);
  });

  test("ranges: fixed, symmetric for signed values (0 stays the middle), finite min to max otherwise", () => {
    expect(gridRange([0.2, 0.5], false, [0, 1])).toMatchObject({ lo: 0, hi: 1 });
    expect(gridRange([-0.5, 2, NaN], true)).toMatchObject({ lo: -2, hi: 2 });
    expect(gridRange([3, 5, Infinity], false)).toMatchObject({ lo: 3, hi: 5 });
    const flat = gridRange([4, 4], false);
    expect(flat.hi).toBeGreaterThan(flat.lo);
  });

  test("labels are cut with an ellipsis; drawing writes each cell's text and the labels", () => {
    expect(fitLabel("understanding", 6)).toBe("under…");
    expect(fitLabel("cat", 6)).toBe("cat");
    const texts = [];
    const ctx = new Proxy({}, { get: (t, p) => (p in t ? t[p] : p === "fillText" ? (s) => texts.push(s) : () => {}), set: (t, p, v) => { t[p] = v; return true; } });
    const P = gridPlan(2, 2, { cellText: true });
    drawGrid(ctx, P, { values: [0, 1, 2, 3], range: gridRange([0, 3], false), cmap: "blues", rowLabels: ["0", "1"], colLabels: ["x", "y"], cellText: [["a", "b"], ["c", "d"]], fadedFrom: 1 });
    expect(texts).toEqual(expect.arrayContaining(["a", "b", "0", "1", "x", "y"]));
    expect(texts).not.toContain("c"); // rows after the slider's block are faded, their text left out
  });
});

describe("GridView", () => {
  let el;
  let canvas;
  beforeEach(() => { el = document.createElement("div"); document.body.appendChild(el); canvas = recordingCanvas(vi); });
  afterEach(() => { el.remove(); canvas.restore(); });

  test("draws title, summary, note, pickers and slider from the traits; the readout names the cell", () => {
    const model = fakeModel(gridState());
    render({ model, el });
    const root = el.querySelector(".attnviz-grid-view");
    expect(root.getAttribute("data-kind")).toBe("logit lens");
    expect(root.getAttribute("data-rows")).toBe("2");
    expect(el.querySelector(".attnviz-title").textContent).toBe("Logit lens");
    expect(el.querySelector(".attnviz-summary").textContent).toBe("appears after block 1");
    expect(el.querySelector(".attnviz-pick-token").value).toBe("5");
    expect(el.querySelector(".attnviz-layer-slider").max).toBe("1");
    expect(cellReadout({ rowTitle: "after block", colTitle: "position", rowLabels: ["0", "1"], colLabels: ["0 the", "1 cat"], valueLabel: "p", values: [0.1, 0.25, 0.3, 0.4], cols: 2, hoverText: [["", "' cat' 0.5"]] }, 0, 1))
      .toBe("after block 0 · position 1 cat · p: 0.25 · top: ' cat' 0.5");
  });

  test("a picker goes to the kernel (pending until its answer); the slider and the checksum answer here", () => {
    const model = fakeModel(gridState());
    render({ model, el });
    const root = el.querySelector(".attnviz-grid-view");
    const select = el.querySelector(".attnviz-pick-token");
    select.value = "7";
    select.dispatchEvent(new Event("change"));
    expect(model.state.choices).toEqual({ token: "7" });
    expect(root.hasAttribute("data-pending")).toBe(true);
    const before = root.getAttribute("data-checksum");
    push(model, { values: f32([0.9, 0.8, 0.7, 0.6, 0.5, 0.4], [2, 3]), revision: 1 });
    expect(root.hasAttribute("data-pending")).toBe(false);
    expect(root.getAttribute("data-checksum")).not.toBe(before);
    const slider = el.querySelector(".attnviz-layer-slider");
    slider.value = "0";
    slider.dispatchEvent(new Event("input"));
    expect(model.state.layer).toBe(0);
    expect(root.getAttribute("data-layer")).toBe("0");
  });

  test("no slider when layer is -1; an error is shown as text; hostile labels stay text", () => {
    const model = fakeModel(gridState({ layer: -1, title: XSS, col_labels: [XSS, "b", "c"], error: "InternalsError: nope" }));
    render({ model, el });
    expect(el.querySelector(".attnviz-layer-slider")).toBeNull();
    expect(el.querySelector(".attnviz-title").textContent).toBe(XSS);
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector(".attnviz-status").textContent).toBe("InternalsError: nope");
  });

  test("the cleanup removes every listener it added", () => {
    const model = fakeModel(gridState());
    const cleanup = render({ model, el });
    const during = model.listenerCount();
    cleanup();
    expect(model.listenerCount()).toBeLessThan(during);
    expect(el.querySelector(".attnviz-grid-view")).toBeNull();
  });
});
