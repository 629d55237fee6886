import { describe, expect, test } from "vitest";
import { LEVELS, drawFlowGraph, edgeGroups, edgeStyle, flowNote, flowSum, graphLayout, nodeRadius, short } from "../src/flow_draw.js";
import { MODEL_COLORS, SHARED_COLOR, columnX, flowLayout, nodeAt, nodeY } from "../src/flow_layout.js";
import { recordingContext, strokedPaths } from "./helpers.js";

// node layers 0..2 at x = 108, 230, 352; 18 px rows: tokens at y = 31, 49, 67; bars left of x = 60
const L = flowLayout(0, 2, 3, { width: 400, labelW: 40 });
// strongest first, as selectEdges returns them (maxW = 0.4)
const EDGES = [
  { kind: 0, l: 1, i: 0, j: 2, w: 0.4 },  // level 5
  { kind: 0, l: 0, i: 0, j: 0, w: 0.39 },  // level floor(5.85) = 5: the same path
  { kind: 2, l: 0, i: 1, j: 1, w: 0.2 },  // level 3, shared
  { kind: 1, l: 0, i: 2, j: 0, w: 0.05 },  // level 0, model b
];
const TOKENS = ["[CLS]", "x".repeat(30), "end"];
// [M = 2, B + 1 = 3, N = 3]: layer 0 peaks at 2; layer 1 all zero; layer 2 all one
const NODES = [0, 2, 1, 0, 0, 0, 1, 1, 1, /* model b */ 0, 0, 2, 0, 0, 0, 1, 1, 1];
const CLS = [0.5, 1, 0, 0.25, 0, 0];
const spec = (over = {}) => ({ edges: EDGES, kind: "both", lo: 0, hi: 2, M: 2, B: 2, N: 3, nodes: NODES, cls: CLS, tokens: TOKENS,
  matched: new Set(), focus: null, source: 1, ...over });
const round = (x) => Math.round(x * 1e4) / 1e4;

describe("edge levels", () => {
  test("edgeGroups: by kind and level, first seen first, [l, i, j] per edge", () => {
    expect([...edgeGroups(EDGES, 0.4)]).toEqual([["0:5", [1, 0, 2, 0, 0, 0]], ["2:3", [0, 1, 1]], ["1:0", [0, 2, 0]]]);
    expect([...edgeGroups([{ kind: 0, l: 0, i: 0, j: 0, w: 0.1 }], 0.1)]).toEqual([[`0:${LEVELS - 1}`, [0, 0, 0]]]);
  });

  test("edgeStyle: faint and thin at level 0, opaque and 3 px at the top", () => {
    expect(edgeStyle(LEVELS - 1)).toEqual({ alpha: 1, width: 3 });
    expect(round(edgeStyle(0).alpha)).toBe(0.2917);
    expect(round(edgeStyle(0).width)).toBe(0.9167);
    expect(round(edgeStyle(3).alpha)).toBe(0.7167);
  });
});

describe("drawFlowGraph", () => {
  test("the layout the drawing is checked against", () => {
    expect([columnX(L, 0), columnX(L, 1), columnX(L, 2), nodeY(L, 0), nodeY(L, 2), L.barW, L.left, nodeRadius(L)])
      .toEqual([108, 230, 352, 31, 67, 60, 108, 5]);
    expect(nodeAt(L, 232, 50)).toEqual({ layer: 1, index: 1 });
    expect(nodeAt(L, 170, 50)).toBeNull();  // between two columns
  });

  test("edges: one path per colour and level, from node (l + 1, i) to node (l, j)", () => {
    const rec = recordingContext();
    drawFlowGraph(rec.ctx, L, spec());
    const paths = strokedPaths(rec.ops).map((p) => ({ ...p, globalAlpha: round(p.globalAlpha), lineWidth: round(p.lineWidth) }));
    expect(paths).toEqual([
      { strokeStyle: MODEL_COLORS[0], globalAlpha: 1, lineWidth: 3, segments: [[352, 31, 230, 67], [230, 31, 108, 31]] },
      { strokeStyle: SHARED_COLOR, globalAlpha: 0.7167, lineWidth: 2.1667, segments: [[230, 49, 108, 49]] },
      { strokeStyle: MODEL_COLORS[1], globalAlpha: 0.2917, lineWidth: 0.9167, segments: [[230, 67, 108, 31]] },
    ]);
    // everything after the edges is opaque
    const afterEdges = rec.ops.slice(rec.ops.findLastIndex((o) => o.op === "stroke") + 1);
    expect(afterEdges.every((o) => o.globalAlpha === 1)).toBe(true);
  });

  test("a layer range shifts the columns: block l of lo..hi starts at column l + 1 - lo", () => {
    const rec = recordingContext();
    const L2 = flowLayout(1, 2, 3, { width: 400, labelW: 40 });
    drawFlowGraph(rec.ctx, L2, spec({ lo: 1, hi: 2, edges: [EDGES[0]], cls: null }));
    expect(strokedPaths(rec.ops)[0].segments).toEqual([[columnX(L2, 1), 31, columnX(L2, 0), 67]]);
    expect(rec.texts().slice(-3)).toEqual(["after 0", "after 1", '"xxxxxxx…" attn']);
  });

  test("nodes: shaded by their share over the layer's largest, model a left in blues, model b right in reds", () => {
    const rec = recordingContext();
    drawFlowGraph(rec.ctx, L, spec());
    const node = (x, y) => rec.of("fillRect").find((o) => o.args[0] === x && o.args[1] === y && o.args[2] === 10);
    // layer 0, token 1: a = 2 = the layer's largest (darkest blue), b = 0 (the palest 15 % of reds)
    expect(node(98, 44)).toMatchObject({ args: [98, 44, 10, 10], fillStyle: "rgb(8, 48, 107)" });
    expect(node(108, 44)).toMatchObject({ fillStyle: "rgb(254, 216, 199)" });
    // layer 1: every share zero: the maps' first colour
    expect(node(220, 26).fillStyle).toBe("rgb(247, 251, 255)");
    expect(node(230, 26).fillStyle).toBe("rgb(255, 245, 240)");
    // layer 2: all equal to the largest
    expect(node(342, 62).fillStyle).toBe("rgb(8, 48, 107)");
    expect(node(352, 62).fillStyle).toBe("rgb(103, 0, 13)");
    expect(rec.of("fillRect").filter((o) => o.args[2] === 10 && o.args[3] === 10).length).toBe(3 * 3 * 2);
  });

  test("one model: nodes centred on their column", () => {
    const rec = recordingContext();
    drawFlowGraph(rec.ctx, L, spec({ M: 1, edges: [], cls: null, nodes: NODES.slice(0, 9) }));
    const squares = rec.of("fillRect").filter((o) => o.args[2] === 10);
    expect(squares.slice(0, 3).map((o) => o.args)).toEqual([[103, 26, 10, 10], [103, 44, 10, 10], [103, 62, 10, 10]]);
    expect(squares[1].fillStyle).toBe("rgb(8, 48, 107)");
  });

  test("matched query tokens outlined in orange, the clicked node in black", () => {
    const rec = recordingContext();
    drawFlowGraph(rec.ctx, L, spec({ matched: new Set([2]), focus: { layer: 1, index: 0 } }));
    expect(rec.of("strokeRect").map((o) => [...o.args, o.strokeStyle, o.lineWidth])).toEqual([
      [96, 60, 24, 14, "#f0a000", 2], [218, 60, 24, 14, "#f0a000", 2], [340, 60, 24, 14, "#f0a000", 2],
      [222, 22, 16, 18, "#000", 2],
    ]);
    const outside = recordingContext();
    drawFlowGraph(outside.ctx, L, spec({ focus: { layer: 3, index: 0 } }));
    expect(outside.of("strokeRect").length).toBe(0);
  });

  test("classification attention: a bar per token and model, right-aligned on the bar column, over the largest", () => {
    const rec = recordingContext();
    drawFlowGraph(rec.ctx, L, spec({ edges: [] }));
    const bars = rec.of("fillRect").filter((o) => o.args[3] === 8);
    expect(bars.map((o) => [...o.args, o.fillStyle])).toEqual([
      [32, 23, 28, 8, MODEL_COLORS[0]], [4, 41, 56, 8, MODEL_COLORS[0]], [60, 59, 0, 8, MODEL_COLORS[0]],
      [46, 31, 14, 8, MODEL_COLORS[1]], [60, 49, 0, 8, MODEL_COLORS[1]], [60, 67, 0, 8, MODEL_COLORS[1]],
    ]);
  });

  test("labels on both sides (24 characters at most), the column titles and the source's name", () => {
    const rec = recordingContext();
    drawFlowGraph(rec.ctx, L, spec());
    const long = `${"x".repeat(23)}…`;
    expect(rec.of("fillText").map((o) => [o.args[0], o.args[1], o.args[2], o.textAlign])).toEqual([
      ["[CLS]", 93, 31, "right"], ["[CLS]", 367, 31, "left"], [long, 93, 49, "right"], [long, 367, 49, "left"],
      ["end", 93, 67, "right"], ["end", 367, 67, "left"],
      ["input", 108, 9, "center"], ["after 0", 230, 9, "center"], ["after 1", 352, 9, "center"], ['"xxxxxxx…" attn', 2, 9, "left"],
    ]);
    const thin = recordingContext();
    const many = flowLayout(0, 1, 200);
    expect(many.rowH).toBe(4);
    drawFlowGraph(thin.ctx, many, spec({ hi: 1, B: 1, N: 200, M: 1, edges: [], cls: null, nodes: new Float32Array(400), tokens: [] }));
    expect(thin.texts()).toEqual(["input", "after 0", '"" attn']);  // rows under 7 px: no token labels
  });

  test("difference mode: only the two models' colours", () => {
    const rec = recordingContext();
    drawFlowGraph(rec.ctx, L, spec({ kind: "difference", edges: [EDGES[0], EDGES[3]] }));
    expect(strokedPaths(rec.ops).map((p) => p.strokeStyle)).toEqual([MODEL_COLORS[0], MODEL_COLORS[1]]);
  });
});

describe("flow text and geometry", () => {
  test("graphLayout: label columns as wide as the longest token, between 4 and 24 characters", () => {
    expect(graphLayout(0, 3, 2, ["ab", "abcdefghij"], 500)).toMatchObject({ labelW: 88, left: 156, width: 500 });
    expect(graphLayout(0, 3, 2, ["a"], 500).labelW).toBe(45);
    expect(graphLayout(0, 3, 2, ["y".repeat(40)], 500).labelW).toBe(189);
    expect(short("abcdef", 4)).toBe("abc…");
    expect(short("abcd", 4)).toBe("abcd");
  });

  test("flowNote: what is drawn, what the cap hides, the clicked token, labels left out", () => {
    const sel = { edges: EDGES.slice(0, 3), total: 1234, hidden: 1231 };
    expect(flowNote({ edges: EDGES, total: 4, hidden: 0 }, { threshold: 0.01, topK: 2000, focus: null, tokens: TOKENS, N: 3 }))
      .toBe("4 edges drawn of 4 at or above 0.01");
    expect(flowNote(sel, { threshold: 0.0123, topK: 3, focus: { layer: 1, index: 0 }, tokens: TOKENS, N: 300 })).toBe(
      '3 edges drawn of 1,234 at or above 0.0123; 1,231 weaker ones hidden by the cap of 3 (raise "at most" or the threshold); '
      + 'only the paths through "[CLS]" at layer 1 ("all paths" clears); labels are left out below 7 px rows');
  });

  test("flowSum: the settings, then kind, block, query and key of every edge", () => {
    const s = { lo: 0, hi: 3, threshold: 0.01, topK: 100, kind: "both", focus: null };
    expect(flowSum([{ kind: 1, l: 2, i: 3, j: 4, w: 1 }], s)).toEqual([0, 3, 0.01, 100, "both", "-", 1, 1020304]);
    expect(flowSum([], { ...s, focus: { layer: 2, index: 5 } })).toEqual([0, 3, 0.01, 100, "both", "2:5", 0]);
  });
});
