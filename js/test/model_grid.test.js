import { describe, expect, test } from "vitest";
import { encodeHalf, halfBits, halfTable } from "../src/codec.js";
import { AXIS_TITLES, EMPTY_GREY, GRID_MARGINS, HEAD_SCORES, decodeScore, drawModelGrid, modelGrid, modelReadout, poolThumbs,
  scoreLabel, scoreOptions, thumbPixels } from "../src/model_grid.js";
import { cellOrigin, gridHit } from "../src/layout.js";
import { ensureImageData, recordingContext } from "./helpers.js";

const f32 = (values, shape) => ({ dtype: "float32", shape, buffer: new Float32Array(values).buffer, scale: 1 });

describe("model grid layout and hit-testing", () => {
  test("56 px cells up to 12 heads, 44 px past; room for the labels", () => {
    const G = modelGrid(2, 3);
    expect([G.rows, G.cols, G.cell, G.gap, G.left, G.top]).toEqual([2, 3, 56, 4, GRID_MARGINS.left, GRID_MARGINS.top]);
    expect([G.width, G.height]).toEqual([48 + 3 * 60, 34 + 2 * 60]);
    expect(modelGrid(1, 12).cell).toBe(56);
    expect(modelGrid(1, 13).cell).toBe(44);
  });

  test("a point finds its thumbnail; gaps and margins find none", () => {
    const G = modelGrid(2, 3);
    expect(gridHit(G, 48 + 2 * 60 + 1, 34 + 60 + 55)).toEqual({ row: 1, col: 2 });
    expect(gridHit(G, 48 + 57, 40)).toBeNull();  // the gap after column 0
    expect(gridHit(G, 20, 40)).toBeNull();  // the block labels
    expect(gridHit(G, 60, 20)).toBeNull();  // the head labels
    expect(gridHit(G, 48 + 3 * 60 + 1, 40)).toBeNull();  // past the last head
  });
});

describe("thumbnails", () => {
  test("pooled by the kernel: each map over its own maximum, square-rooted; the stored scale does not matter", () => {
    // [B=1, H=2, t=2, t=2]: head 0 = [0.25, 0, 0, 1], head 1 = [0.5, 0.5, 0.5, 0.5]
    const enc = encodeHalf([0.25, 0, 0, 1, 0.5, 0.5, 0.5, 0.5], [1, 2, 2, 2]);
    const p = poolThumbs({ B: 1, H: 2, N: 10, cell: 56, table: halfTable(), pooled: halfBits(enc) });
    expect(p.t).toBe(2);
    expect(p.thumbs.map((x) => Array.from(x))).toEqual([[0.5, 0, 0, 1], [1, 1, 1, 1]]);
    expect(p.sums).toEqual([128 + 255, 4 * 255]);  // round(0.5 * 255) = 128
    const scaled = poolThumbs({ B: 1, H: 2, N: 10, cell: 56, table: halfTable(), pooled: { ...halfBits(enc), scale: 3 } });
    expect(scaled.thumbs.map((x) => Array.from(x))).toEqual([[0.5, 0, 0, 1], [1, 1, 1, 1]]);
  });

  test("pooled here from the blocks present: t = min(N, cell) cells averaged; a missing block is blank", () => {
    // block 0, head 0 (N = 4) pooled to 2 x 2: the top-left 2 x 2 holds 1s (mean 1), the bottom-right a 4 (mean 1)
    const map = [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4];
    const block0 = halfBits(encodeHalf(map, [1, 1, 4, 4])).bits;
    const p = poolThumbs({ B: 2, H: 1, N: 4, cell: 2, table: halfTable(), block: (l) => (l === 0 ? block0 : null) });
    expect(p.t).toBe(2);
    expect(Array.from(p.thumbs[0])).toEqual([1, 0, 0, 1]);
    expect(Array.from(p.thumbs[1])).toEqual([0, 0, 0, 0]);
    expect(p.sums).toEqual([510, 0]);
    expect(poolThumbs({ B: 1, H: 1, N: 4, cell: 56, table: halfTable(), block: () => block0 }).t).toBe(4);
  });

  test("pixels: white to the head colour; a decoder's future (key after query) in grey", () => {
    const p = new Float32Array([0, 1, 0.5, 1]);
    const plain = Array.from(thumbPixels(p, 2, [100, 200, 50], false));
    // 255 + (c - 255) * 0.5 = 177.5, 227.5, 152.5: Uint8ClampedArray rounds half to even
    expect(plain).toEqual([255, 255, 255, 255, 100, 200, 50, 255, 178, 228, 152, 255, 100, 200, 50, 255]);
    const causal = Array.from(thumbPixels(p, 2, [100, 200, 50], true));
    expect(causal.slice(4, 8)).toEqual([EMPTY_GREY, EMPTY_GREY, EMPTY_GREY, 255]);  // row 0, column 1
    expect(causal.slice(8, 12)).toEqual([178, 228, 152, 255]);  // row 1, column 0: the past stays
    expect(causal.slice(12)).toEqual(plain.slice(12));  // the diagonal stays
  });
});

describe("head-type scores", () => {
  test("the names, their labels and the picker's options", () => {
    expect(HEAD_SCORES).toEqual(["previous_token", "duplicate_token", "induction"]);
    expect(scoreLabel("duplicate_token")).toBe("duplicate-token");
    expect(scoreOptions()).toEqual([["", "heads: plain"], ["previous_token", "previous-token score"],
      ["duplicate_token", "duplicate-token score"], ["induction", "induction score"]]);
  });

  test("decodeScore: the named [B, H] score and its largest value, or null", () => {
    const scores = { induction: f32([0.1, 0.9, 0.2, 0.3], [2, 2]), flat: f32([1, 2], [2]) };
    const s = decodeScore("induction", scores);
    expect(s.name).toBe("induction");
    expect(Array.from(s.values)).toEqual(Array.from(new Float32Array([0.1, 0.9, 0.2, 0.3])));
    expect(s.max).toBe(Math.fround(0.9));
    expect(decodeScore("", scores)).toBeNull();
    expect(decodeScore("previous_token", scores)).toBeNull();
    expect(decodeScore("flat", scores)).toBeNull();  // not [B, H]
  });

  test("modelReadout: the cell's block and head, with the score when coloured", () => {
    const score = { name: "previous_token", values: new Float32Array([0, 0.5, 0.25, 1]), max: 1 };
    expect(modelReadout({ row: 1, col: 0 }, null, 2, 7)).toBe("block 7, head 0 (click to open)");
    expect(modelReadout({ row: 0, col: 1 }, score, 2, 3)).toBe("block 3, head 1, previous-token score 0.5 (click to open)");
    expect(modelReadout({ row: 1, col: 0 }, score, 2, 9)).toBe("block 9, head 0, previous-token score 0.25 (click to open)");
    expect(modelReadout(null, score, 2, "")).toBe(" ");
  });
});

describe("drawModelGrid", () => {
  ensureImageData();
  const G = modelGrid(2, 2);
  const thumbs = [0, 1, 2, 3].map((k) => new Float32Array([k / 3, 0, 0, 1]));
  const spec = { thumbs, t: 2, layer: 1, mask: [[true, false], [true, true]], blockNames: [4, 9], causal: false, score: null };
  const at = (l, h) => cellOrigin(G, l, h);

  test("labels: head numbers on top, block names on the left, the axis titles", () => {
    const rec = recordingContext();
    const tile = recordingContext();
    drawModelGrid(rec.ctx, G, spec, { canvas: "TILE", ctx: tile.ctx });
    expect(rec.ops[0]).toMatchObject({ op: "fillRect", args: [0, 0, G.width, G.height], fillStyle: "#fff" });
    expect(rec.of("fillText").map((o) => [o.args[0], o.args[1], o.args[2], o.textAlign])).toEqual([
      ["0", 48 + 28, 25, "center"], ["1", 48 + 60 + 28, 25, "center"],
      ["4", 42, 34 + 28, "right"], ["9", 42, 34 + 60 + 28, "right"],
      [AXIS_TITLES[0], 48, 8, "left"], [AXIS_TITLES[1], 2, 25, "left"],
    ]);
  });

  test("each thumbnail goes through the tile to its cell; switched-off heads faded; the shown block framed black", () => {
    const rec = recordingContext();
    const tile = recordingContext();
    drawModelGrid(rec.ctx, G, spec, { canvas: "TILE", ctx: tile.ctx });
    const puts = tile.of("putImageData");
    expect(puts.length).toBe(4);
    expect(puts.map((o) => [o.args[0].width, o.args[0].height, o.args[1], o.args[2]])).toEqual(Array(4).fill([2, 2, 0, 0]));
    // cell (1, 1): value 1 at pixel 0, head 1's orange (255, 127, 14) at full strength
    expect(Array.from(puts[3].args[0].data.slice(0, 4))).toEqual([255, 127, 14, 255]);
    expect(Array.from(puts[0].args[0].data.slice(0, 4))).toEqual([255, 255, 255, 255]);  // cell (0, 0): value 0
    const draws = rec.of("drawImage");
    expect(draws.map((o) => [...o.args, o.globalAlpha])).toEqual([
      ["TILE", at(0, 0).x, at(0, 0).y, 56, 56, 1], ["TILE", at(0, 1).x, at(0, 1).y, 56, 56, 0.25],
      ["TILE", at(1, 0).x, at(1, 0).y, 56, 56, 1], ["TILE", at(1, 1).x, at(1, 1).y, 56, 56, 1],
    ]);
    expect(rec.ctx.imageSmoothingEnabled).toBe(false);
    expect(rec.of("strokeRect").map((o) => [...o.args, o.strokeStyle, o.lineWidth, o.globalAlpha])).toEqual([
      [at(0, 0).x + 0.5, at(0, 0).y + 0.5, 55, 55, "#ccc", 1, 1], [at(0, 1).x + 0.5, at(0, 1).y + 0.5, 55, 55, "#ccc", 1, 1],
      [at(1, 0).x + 0.5, at(1, 0).y + 0.5, 55, 55, "#000", 1.5, 1], [at(1, 1).x + 0.5, at(1, 1).y + 0.5, 55, 55, "#000", 1.5, 1],
    ]);
  });

  test("no tile context: frames without pictures", () => {
    const rec = recordingContext();
    drawModelGrid(rec.ctx, G, spec, { canvas: "TILE", ctx: null });
    expect(rec.of("drawImage").length).toBe(0);
    expect(rec.of("strokeRect").length).toBe(4);
  });

  test("a score: a reds frame (darker = higher, over the largest) and the value in the corner", () => {
    const rec = recordingContext();
    const score = { name: "induction", values: new Float32Array([0, 2, 1, 2]), max: 2 };
    drawModelGrid(rec.ctx, G, { ...spec, score }, { canvas: "TILE", ctx: null });
    const frames = rec.of("strokeRect").filter((o) => o.lineWidth === 4);
    expect(frames.map((o) => [...o.args, o.strokeStyle])).toEqual([
      [at(0, 0).x + 2, at(0, 0).y + 2, 52, 52, "rgb(255, 245, 240)"], [at(0, 1).x + 2, at(0, 1).y + 2, 52, 52, "rgb(103, 0, 13)"],
      [at(1, 0).x + 2, at(1, 0).y + 2, 52, 52, "rgb(251, 105, 74)"], [at(1, 1).x + 2, at(1, 1).y + 2, 52, 52, "rgb(103, 0, 13)"],
    ]);
    const values = rec.of("fillText").slice(6);
    expect(values.map((o) => [o.args[0], o.args[1], o.args[2], o.fillStyle, o.font])).toEqual([
      ["0.00", at(0, 0).x + 4, at(0, 0).y + 47, "#111", "10px sans-serif"], ["2.00", at(0, 1).x + 4, at(0, 1).y + 47, "#111", "10px sans-serif"],
      ["1.00", at(1, 0).x + 4, at(1, 0).y + 47, "#111", "10px sans-serif"], ["2.00", at(1, 1).x + 4, at(1, 1).y + 47, "#111", "10px sans-serif"],
    ]);
    const boxes = rec.of("fillRect").slice(1);
    expect(boxes[2]).toMatchObject({ args: [at(1, 0).x + 3, at(1, 0).y + 41, 28, 12], fillStyle: "rgba(255, 255, 255, 0.85)" });
  });

  test("causal: the thumbnails' upper triangle is grey", () => {
    const tile = recordingContext();
    drawModelGrid(recordingContext().ctx, G, { ...spec, causal: true }, { canvas: "TILE", ctx: tile.ctx });
    for (const o of tile.of("putImageData")) expect(Array.from(o.args[0].data.slice(4, 8))).toEqual([222, 222, 222, 255]);
  });
});
