import { describe, expect, test } from "vitest";
import { HEAD_GRID, cellColour, drawHeadGrid, drawHeadMap, headGrid, legendLayout, maxOf, pairHit, pairLayout } from "../src/flow_grid.js";
import { cellOrigin, gridHit } from "../src/layout.js";
import { recordingContext } from "./helpers.js";

// 3 blocks x 2 heads of 22 px cells, 2 px gaps, from (30, 16): the grid ends at (78, 88), the legend below it
const G = headGrid(3, 2);
const VALUES = [0, 0.1, 0.2, 0.3, 0.4, 0.5];

describe("head grid geometry", () => {
  test("cells, legend and canvas size", () => {
    expect([G.cell, G.gap, G.left, G.top, G.width, G.height]).toEqual([22, 2, 30, 16, 78, 88]);
    expect(HEAD_GRID).toEqual({ cell: 22, gap: 2, left: 30, top: 16 });
    expect(legendLayout(G)).toEqual({ width: 274, height: 118, barX: 30, barY: 92, barW: 120, barH: 8 });
    expect(legendLayout(headGrid(2, 20)).width).toBe(30 + 20 * 24);  // a wide grid sets the width
  });

  test("a point finds its head; gaps and labels find none", () => {
    expect(gridHit(G, 30 + 24 + 5, 16 + 48 + 5)).toEqual({ row: 2, col: 1 });
    expect(gridHit(G, 30 + 22.5, 20)).toBeNull();  // the gap
    expect(gridHit(G, 10, 20)).toBeNull();
    expect(gridHit(G, 40, 95)).toBeNull();  // the legend
  });

  test("colours: white for exactly 0, reds from 8 % up to the largest", () => {
    expect(cellColour(0, 0.5)).toBe("#ffffff");
    expect(cellColour(0.5, 0.5)).toBe("rgb(103, 0, 13)");
    expect(cellColour(0.25, 0.5)).toBe("rgb(247, 91, 65)");  // 0.08 + 0.92 / 2
    expect(cellColour(0.3, 0)).toBe("rgb(255, 245, 240)");  // no largest value: the palest red
    expect(maxOf(VALUES)).toBe(0.5);
    expect(maxOf([-1, -2])).toBe(0);
  });
});

describe("drawHeadGrid", () => {
  test("each cell in its colour, the selected head framed black, the others light grey", () => {
    const rec = recordingContext();
    drawHeadGrid(rec.ctx, G, { values: VALUES, max: 0.5, selected: [2, 1], query: false });
    expect(rec.ops[0]).toMatchObject({ op: "fillRect", args: [0, 0, 274, 118], fillStyle: "#fff" });
    const cells = rec.of("fillRect").filter((o) => o.args[2] === 22);
    expect(cells.map((o) => [...o.args, o.fillStyle])).toEqual([
      [30, 16, 22, 22, "#ffffff"], [54, 16, 22, 22, "rgb(252, 182, 156)"],
      [30, 40, 22, 22, cellColour(0.2, 0.5)], [54, 40, 22, 22, cellColour(0.3, 0.5)],
      [30, 64, 22, 22, cellColour(0.4, 0.5)], [54, 64, 22, 22, "rgb(103, 0, 13)"],
    ]);
    const frames = rec.of("strokeRect").slice(1).map((o) => [...o.args, o.strokeStyle, o.lineWidth]);
    expect(frames).toEqual([
      [30.5, 16.5, 21, 21, "#ddd", 1], [54.5, 16.5, 21, 21, "#ddd", 1], [30.5, 40.5, 21, 21, "#ddd", 1],
      [54.5, 40.5, 21, 21, "#ddd", 1], [30.5, 64.5, 21, 21, "#ddd", 1], [54.5, 64.5, 21, 21, "#000", 2],
    ]);
    for (const sel of [[], [2]]) {  // none (or a malformed) selection: no black frame
      const none = recordingContext();
      drawHeadGrid(none.ctx, G, { values: VALUES, max: 0.5, selected: sel, query: false });
      expect(none.of("strokeRect").some((o) => o.strokeStyle === "#000")).toBe(false);
    }
  });

  test("the legend: a framed white swatch for 0, a 120 px bar of reds up to the largest, its captions", () => {
    const rec = recordingContext();
    drawHeadGrid(rec.ctx, G, { values: VALUES, max: 0.5, selected: [], query: false });
    const fills = rec.of("fillRect");
    expect(fills[1]).toMatchObject({ args: [30, 92, 10, 8], fillStyle: "#ffffff" });
    expect(rec.of("strokeRect")[0]).toMatchObject({ args: [30.5, 92.5, 9, 7], strokeStyle: "#bbb", lineWidth: 1 });
    const bar = fills.filter((o) => o.args[2] === 1 && o.args[3] === 8);
    expect(bar.length).toBe(120);
    expect(bar.map((o) => o.args[0])).toEqual(Array.from({ length: 120 }, (_, x) => 44 + x));
    expect(bar[0].fillStyle).toBe("rgb(254, 231, 219)");  // 1/120 of the largest
    expect(bar[119].fillStyle).toBe("rgb(103, 0, 13)");
    expect(rec.of("fillText").slice(0, 3).map((o) => [o.args[0], o.args[1], o.args[2], o.textAlign])).toEqual([
      ["0", 32, 102, "left"], ["0.5", 164, 102, "right"], ["white: identical", 170, 92, "left"],
    ]);
    const query = recordingContext();
    drawHeadGrid(query.ctx, G, { values: VALUES, max: 0, selected: [], query: true });
    expect(query.texts().slice(0, 3)).toEqual(["0", "0", ""]);
  });

  test("head numbers on top, block numbers on the left", () => {
    const rec = recordingContext();
    drawHeadGrid(rec.ctx, G, { values: VALUES, max: 0.5, selected: [], query: false });
    expect(rec.of("fillText").slice(3).map((o) => [o.args[0], o.args[1], o.args[2], o.textAlign])).toEqual([
      ["0", 41, 8, "center"], ["1", 65, 8, "center"], ["0", 26, 27, "right"], ["1", 26, 51, "right"], ["2", 26, 75, "right"],
    ]);
    expect(cellOrigin(G, 2, 0)).toEqual({ x: 30, y: 64 });
  });
});

describe("head maps", () => {
  test("pairLayout: 120 to 240 px; a token margin when rows are 6 px or more", () => {
    expect(pairLayout(4, ["a", "bb", "ccc", "dddd"])).toEqual({ margin: 30, cell: 30, N: 4, size: 120, labelled: true });
    expect(pairLayout(100, ["a"])).toEqual({ margin: 0, cell: 2, N: 100, size: 200, labelled: false });
    expect(pairLayout(200, ["a"]).size).toBe(240);
    expect(pairLayout(4, ["a".repeat(30)]).margin).toBe(Math.round(8 + 5.6 * 12));  // at most 12 characters
  });

  test("pairHit: the query row and key column under a point", () => {
    const P = pairLayout(4, ["a", "bb", "ccc", "dddd"]);
    expect(pairHit(P, 30 + 30 * 3 + 2, 30 + 30 + 2)).toEqual({ i: 1, j: 3 });
    expect(pairHit(P, 29, 40)).toBeNull();  // the label margin
    expect(pairHit(P, 40, 30 + 120)).toBeNull();  // below the map
  });

  test("drawHeadMap: model m's cells, sqrt of the weight over the map's largest, in blues (a) or reds (b)", () => {
    const P = pairLayout(2, ["x", "yy"]);
    expect([P.margin, P.cell]).toEqual([19, 60]);
    const maps = [1, 0, 0, 0, /* model b */ 0, 1, 0.25, 0];
    const b = recordingContext();
    drawHeadMap(b.ctx, P, { maps, m: 1, tokens: ["x", "yy"] });
    expect(b.ops[0]).toMatchObject({ op: "fillRect", args: [0, 0, 139, 139], fillStyle: "#fff" });
    expect(b.of("fillRect").slice(1).map((o) => [...o.args, o.fillStyle])).toEqual([
      [19, 19, 60, 60, "rgb(255, 245, 240)"], [79, 19, 60, 60, "rgb(103, 0, 13)"],
      [19, 79, 60, 60, "rgb(251, 105, 74)"], [79, 79, 60, 60, "rgb(255, 245, 240)"],
    ]);
    const a = recordingContext();
    drawHeadMap(a.ctx, P, { maps, m: 0, tokens: ["x", "yy"] });
    expect(a.of("fillRect").slice(1).map((o) => o.fillStyle)).toEqual(["rgb(8, 48, 107)", "rgb(247, 251, 255)", "rgb(247, 251, 255)", "rgb(247, 251, 255)"]);
  });

  test("drawHeadMap: query tokens on the left, key tokens rotated on top; none without room", () => {
    const P = pairLayout(2, ["x", "yy"]);
    const rec = recordingContext();
    drawHeadMap(rec.ctx, P, { maps: [1, 0, 0, 0], m: 0, tokens: ["x", "yy"] });
    expect(rec.ops.filter((o) => ["fillText", "save", "rotate", "restore"].includes(o.op)).map((o) => [o.op, ...o.args, o.textAlign]))
      .toEqual([
        ["fillText", "x", 16, 49, "right"], ["fillText", "yy", 16, 109, "right"],
        ["save", "right"], ["rotate", -Math.PI / 2, "right"],
        ["fillText", "x", -16, 49, "left"], ["fillText", "yy", -16, 109, "left"], ["restore", "left"],
      ]);
    expect(rec.of("fillText")[0].font).toBe("10px sans-serif");
    const many = recordingContext();
    drawHeadMap(many.ctx, pairLayout(100, []), { maps: new Float32Array(100 * 100), m: 0, tokens: [] });
    expect(many.of("fillText").length).toBe(0);
    expect(many.of("fillRect").length).toBe(1 + 100 * 100);
  });
});
