import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { render, shownKeys, temperatureOf, whatIf } from "../src/head_math_view.js";
import { fakeModel, recordingCanvas, XSS } from "./helpers.js";

const f32 = (values, shape) => ({ dtype: "float32", shape, buffer: new Float32Array(values).buffer, scale: 1 });
const f16pattern = (n) => ({ dtype: "float32", shape: [n, n], buffer: new Float32Array(n * n).fill(1 / n).buffer, scale: 1 });

function softmax(xs) {
  const m = Math.max(...xs.filter(Number.isFinite));
  const e = xs.map((x) => (Number.isFinite(x) ? Math.exp(x - m) : 0));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function state(extra = {}) {
  const scores = [0.5, 2.0, -1.0, NaN];
  const w = softmax(scores);
  return {
    tokens: ["the", XSS, " cat", " sat"], block: 1, head: 2, query: 2, num_blocks: 2, num_heads: 4, position: 2,
    target_text: "' mat'",
    math: { q: f32([1, -1], [2]), keys: f32([1, 0, 0, 1, 1, 1, 0, 0], [4, 2]), values: f32([1, 0, 0, 1, 1, 1, 0, 0], [4, 2]),
      scores: f32(scores, [4]), weights: f32(w, [4]), model_weights: f32(w, [4]), z: f32([0.3, 0.7], [2]) },
    facts: { scaling: 0.7071, kv_head: 1, write_norm: 1.25, direct: 0.42, causal: true, head_dim: 2 },
    pattern: f16pattern(4), error: "", revision: 0, scale: 1, ...extra,
  };
}

describe("head arithmetic helpers", () => {
  test("whatIf at T = 1 is the softmax; lower T sharpens, higher flattens; masked keys stay 0", () => {
    const scores = [0.5, 2.0, -1.0, NaN];
    const base = whatIf(scores, 1);
    softmax(scores).forEach((v, i) => expect(base[i]).toBeCloseTo(v, 12));
    expect(Math.max(...whatIf(scores, 0.25))).toBeGreaterThan(Math.max(...base));
    expect(Math.max(...whatIf(scores, 4))).toBeLessThan(Math.max(...base));
    expect(whatIf(scores, 0.25)[3]).toBe(0);
    expect(temperatureOf(0)).toBe(1);
    expect(temperatureOf(-4)).toBe(0.25);
  });

  test("shownKeys lists every visible key, or the largest weights in text order", () => {
    expect(shownKeys([1, 2, NaN], [0.3, 0.7, 0])).toEqual([0, 1]);
    expect(shownKeys([1, 2, 3, 4], [0.1, 0.4, 0.2, 0.3], 2)).toEqual([1, 3]);
  });
});

describe("HeadMathView", () => {
  let el;
  let canvas;
  beforeEach(() => { el = document.createElement("div"); document.body.appendChild(el); canvas = recordingCanvas(vi); });
  afterEach(() => { el.remove(); canvas.restore(); });

  test("the steps and the table show the kernel's numbers; masked keys are not listed; tokens stay text", () => {
    render({ model: fakeModel(state()), el });
    const steps = [...el.querySelectorAll(".attnviz-steps li")].map((li) => li.textContent);
    expect(steps[1]).toContain("s = 0.7071");
    expect(steps[2]).toContain("keys after position 2 get −∞");
    expect(steps[5]).toContain("direct contribution to ' mat': +0.42");
    const rows = [...el.querySelectorAll(".attnviz-math-table tr")].slice(1);
    expect(rows.map((r) => r.firstChild.textContent)).toEqual(["0 the", `1 ${XSS}`, "2  cat"]);
    expect(el.querySelector("img")).toBeNull();
    expect(el.querySelector(".attnviz-description").textContent).toContain("1 later keys masked");
  });

  test("the temperature is a what-if answered here; a token click asks the kernel for that query", () => {
    const model = fakeModel(state());
    render({ model, el });
    const root = el.querySelector(".attnviz-head-math-view");
    const before = root.getAttribute("data-checksum");
    const slider = el.querySelector(".attnviz-temperature");
    slider.value = "-4";
    slider.dispatchEvent(new Event("input"));
    expect(root.getAttribute("data-temperature")).toBe("0.25");
    expect(el.querySelector(".attnviz-temperature-text").textContent).toContain("what-if, not the model");
    expect(root.getAttribute("data-checksum")).not.toBe(before);
    expect(model.saves).toBe(0);
    el.querySelectorAll(".attnviz-query-token")[1].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.state.query).toBe(1);
    expect(root.hasAttribute("data-pending")).toBe(true);
  });

  test("a click on a key row writes out its score and weight here, without the kernel", () => {
    const model = fakeModel(state());
    render({ model, el });
    const rows = el.querySelectorAll(".attnviz-math-table tr[data-key]");
    rows[1].firstChild.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    const root = el.querySelector(".attnviz-head-math-view");
    expect(root.getAttribute("data-key")).toBe("1");
    expect(el.querySelector(".attnviz-key-detail").textContent).toMatch(/^key 1 .*q·k × s = 2, weight 0\.7\d+/);
    expect(model.saves).toBe(0);
  });
});
