import { describe, expect, test } from "vitest";
import { COLUMN_TITLES, FOCUS_FILL, blankNote, drawHeadView, headNote, planSum, shortToken, stepFocus } from "../src/head_draw.js";
import { LEVELS } from "../src/head_lines.js";
import { headViewHit, headViewLayout, rowY } from "../src/layout.js";
import { recordingContext, strokedPaths } from "./helpers.js";

// 3 tokens, 18 px rows: top 10, so row i spans y = 10 + 18 i .. 28 + 18 i (centre 19 + 18 i); lines from x = 56 to 244
const L = headViewLayout(3, { width: 300, labelW: 50, top: 10, minRow: 11 });
const levels = (entries) => Array.from({ length: LEVELS }, (_, k) => entries[k] ?? []);
// head 0: query 0 -> key 1 at level 0 (alpha 1/8), query 2 -> key 2 at level 7 (opaque); head 2: two lines at level 3
const PLAN = [
  { head: 0, levels: levels({ 0: [0, 1], 7: [2, 2] }) },
  { head: 2, levels: levels({ 3: [1, 0, 0, 0] }) },
];
const TOKENS = ["[CLS]", "a-very-long-token-indeed", "end"];

describe("drawHeadView", () => {
  test("the layout the drawing is checked against", () => {
    expect([L.rowH, L.top, L.xLeft, L.xRight, L.width, L.height]).toEqual([18, 10, 56, 244, 300, 74]);
    expect([rowY(L, 0), rowY(L, 1), rowY(L, 2)]).toEqual([19, 37, 55]);
  });

  test("one path per head and non-empty level, in the head's colour at alpha (level + 1) / LEVELS, query to key", () => {
    const rec = recordingContext();
    drawHeadView(rec.ctx, L, { heads: PLAN, tokens: TOKENS, focus: null, lineWidth: 0.5 });
    expect(strokedPaths(rec.ops)).toEqual([
      { strokeStyle: "rgba(31, 119, 180, 0.125)", globalAlpha: 1, lineWidth: 0.5, segments: [[56, 19, 244, 37]] },
      { strokeStyle: "rgb(31, 119, 180)", globalAlpha: 1, lineWidth: 0.5, segments: [[56, 55, 244, 55]] },
      { strokeStyle: "rgba(44, 160, 44, 0.5)", globalAlpha: 1, lineWidth: 0.5, segments: [[56, 37, 244, 19], [56, 19, 244, 19]] },
    ]);
    expect(rec.of("beginPath").length).toBe(3);  // empty levels open no path
  });

  test("a white background first, then lines, then labels on both sides (long tokens cut), then the titles", () => {
    const rec = recordingContext();
    drawHeadView(rec.ctx, L, { heads: PLAN, tokens: TOKENS, focus: null, lineWidth: 1 });
    expect(rec.ops[0]).toMatchObject({ op: "fillRect", args: [0, 0, 300, 74], fillStyle: "#fff" });
    const texts = rec.of("fillText").map((o) => [o.args[0], o.args[1], o.args[2], o.textAlign, o.fillStyle, o.font]);
    expect(texts).toEqual([
      ["[CLS]", 52, 19, "right", "#222", "12px sans-serif"],
      ["[CLS]", 248, 19, "left", "#222", "12px sans-serif"],
      ["a-very-long-t…", 52, 37, "right", "#222", "12px sans-serif"],
      ["a-very-long-t…", 248, 37, "left", "#222", "12px sans-serif"],
      ["end", 52, 55, "right", "#222", "12px sans-serif"],
      ["end", 248, 55, "left", "#222", "12px sans-serif"],
      [COLUMN_TITLES[0], 2, 5, "left", "#555", "bold 11px sans-serif"],
      [COLUMN_TITLES[1], 248, 5, "left", "#555", "bold 11px sans-serif"],
    ]);
    const lastStroke = rec.ops.findLastIndex((o) => o.op === "stroke");
    const firstText = rec.ops.findIndex((o) => o.op === "fillText");
    expect(lastStroke).toBeLessThan(firstText);
    expect(rec.of("fillRect").length).toBe(1);  // no focus, labelled rows: nothing else filled
  });

  test("the focused token's row is highlighted on its side, over the lines and under the labels", () => {
    for (const [focus, x] of [[{ side: "left", index: 1 }, 0], [{ side: "right", index: 2 }, 244]]) {
      const rec = recordingContext();
      drawHeadView(rec.ctx, L, { heads: PLAN, tokens: TOKENS, focus, lineWidth: 1 });
      const fills = rec.of("fillRect");
      expect(fills.length).toBe(2);
      expect(fills[1]).toMatchObject({ args: [x, 10 + 18 * focus.index, 56, 18], fillStyle: FOCUS_FILL });
      const at = rec.ops.indexOf(fills[1]);
      expect(at).toBeGreaterThan(rec.ops.findLastIndex((o) => o.op === "stroke"));
      expect(at).toBeLessThan(rec.ops.findIndex((o) => o.op === "fillText"));
    }
  });

  test("rows under 7 px get a grey bar per column instead of labels", () => {
    const thin = { n: 4, rowH: 3, top: 8, height: 28, width: 300, labelW: 50, xLeft: 56, xRight: 244 };
    const rec = recordingContext();
    drawHeadView(rec.ctx, thin, { heads: [], tokens: ["a", "b", "c", "d"], focus: null, lineWidth: 1 });
    expect(rec.of("fillRect").slice(1).map((o) => [...o.args, o.fillStyle])).toEqual([[53, 8, 2, 12, "#ddd"], [245, 8, 2, 12, "#ddd"]]);
    expect(rec.texts()).toEqual(COLUMN_TITLES);
    expect(rec.of("stroke").length).toBe(0);
  });

  test("hit-testing the same layout finds the token under the pointer", () => {
    expect(headViewHit(L, 10, 37)).toEqual({ side: "left", index: 1 });
    expect(headViewHit(L, 250, 28.5)).toEqual({ side: "right", index: 1 });
    expect(headViewHit(L, 150, 37)).toBeNull();  // between the columns
    expect(headViewHit(L, 10, 9)).toBeNull();  // the title band
    expect(headViewHit(L, 10, 64)).toBeNull();  // below the last row
  });
});

describe("head view text and checksum", () => {
  test("shortToken keeps 14 characters, cuts longer ones to 13 and an ellipsis", () => {
    expect(shortToken("fourteen chars")).toBe("fourteen chars");
    expect(shortToken("fifteen chars!!")).toBe("fifteen chars…");
  });

  test("blankNote: why nothing is drawn", () => {
    expect(blankNote([true, false, true], 0.5, 7, 0.123456)).toBe("no line drawn: no weight of the 2 heads shown reaches the "
      + "threshold 0.5 in block 7 (the largest is 0.123). Lower it: AttentionView(e, threshold=...)");
    expect(blankNote([false, false], 0.5, 0, 0)).toBe("no line drawn: every head of this block is switched off (click a head swatch to show it)");
  });

  test("headNote: what is left out, or nothing", () => {
    expect(headNote({ count: 10, hidden: 0, uncovered: 0 }, null, 0.02, 0.5)).toBe("");
    expect(headNote({ count: 6000, hidden: 1234, uncovered: 0 }, null, 0.02, 0.5))
      .toBe("showing the strongest 6,000 of 7,234 lines (line budget); hover a token to see all of its lines");
    expect(headNote({ count: 5, hidden: 0, uncovered: 2500 }, null, 0.02, 0.25)).toBe("showing each query's strongest lines "
      + "holding 25% of its attention per head (2,500 weaker lines above the threshold 0.02 not drawn: AttentionView(e, coverage=1) "
      + "draws them); hover a token to see all of its lines");
    // a hovered token draws all of its lines: no coverage note
    expect(headNote({ count: 5, hidden: 0, uncovered: 2500 }, { side: "left", index: 0 }, 0.02, 0.25)).toBe("");
  });

  test("planSum: head, level, length and a hash of the pairs per level", () => {
    const heads = [{ head: 1, levels: [[0, 2, 1, 0], []] }];
    // c = 0 * 31 + (0 * 3 + 2) = 2, then 2 * 31 + (1 * 3 + 0) = 65
    expect(planSum(heads, 3)).toEqual([1, 0, 4, 65, 1, 1, 0, 0]);
    expect(planSum([{ head: 1, levels: [[1, 0, 0, 2], []] }], 3)).not.toEqual(planSum(heads, 3));  // order matters
  });

  test("stepFocus: arrows walk and switch columns, Escape clears, other keys are not handled", () => {
    expect(stepFocus("ArrowDown", null, 5)).toEqual({ side: "left", index: 0 });
    expect(stepFocus("ArrowDown", { side: "right", index: 3 }, 5)).toEqual({ side: "right", index: 4 });
    expect(stepFocus("ArrowDown", { side: "right", index: 4 }, 5)).toEqual({ side: "right", index: 4 });
    expect(stepFocus("ArrowUp", { side: "left", index: 0 }, 5)).toEqual({ side: "left", index: 0 });
    expect(stepFocus("ArrowUp", { side: "left", index: 2 }, 5)).toEqual({ side: "left", index: 1 });
    expect(stepFocus("ArrowRight", { side: "left", index: 2 }, 5)).toEqual({ side: "right", index: 2 });
    expect(stepFocus("ArrowLeft", null, 5)).toEqual({ side: "left", index: 0 });
    expect(stepFocus("Escape", { side: "left", index: 2 }, 5)).toBeNull();
    expect(stepFocus("a", { side: "left", index: 2 }, 5)).toBeUndefined();
  });
});
