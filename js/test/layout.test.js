import { describe, expect, test } from "vitest";
import { bilinear, cellOrigin, gridHit, gridLayout, headViewHit, headViewLayout, patchAt, pool, rowY, wrapBoxes } from "../src/layout.js";

describe("head view layout", () => {
  test("rows shrink for long inputs but stay at least 3 px", () => {
    expect(headViewLayout(10).rowH).toBe(18);
    expect(headViewLayout(128).rowH).toBe(12);
    expect(headViewLayout(512).rowH).toBe(3);
    expect(headViewLayout(512).height).toBe(16 + 3 * 512);
  });
  test("hits map back to rows and sides", () => {
    const L = headViewLayout(20);
    expect(headViewHit(L, 5, rowY(L, 7))).toEqual({ side: "left", index: 7 });
    expect(headViewHit(L, L.width - 5, rowY(L, 19))).toEqual({ side: "right", index: 19 });
    expect(headViewHit(L, L.width / 2, rowY(L, 3))).toBeNull();
    expect(headViewHit(L, 5, L.height + 10)).toBeNull();
  });
});

describe("thumbnail grid", () => {
  test("cells round-trip and gaps hit nothing", () => {
    const G = gridLayout(12, 12);
    for (const [r, c] of [[0, 0], [5, 7], [11, 11]]) {
      const o = cellOrigin(G, r, c);
      expect(gridHit(G, o.x + 1, o.y + 1)).toEqual({ row: r, col: c });
    }
    const o = cellOrigin(G, 0, 0);
    expect(gridHit(G, o.x + G.cell + 1, o.y + 1)).toBeNull();
    expect(gridHit(G, 1, 1)).toBeNull();
  });
});

describe("bilinear", () => {
  test("a constant grid stays constant", () => {
    const out = bilinear([3, 3, 3, 3], 2, 2, 7, 5);
    expect(out.every((v) => Math.abs(v - 3) < 1e-6)).toBe(true);
  });
  test("same size is the identity", () => {
    const g = [1, 2, 3, 4, 5, 6];
    expect(Array.from(bilinear(g, 2, 3, 2, 3))).toEqual(g);
  });
  test("matches torch's align_corners=False on a 2x2 -> 4x4", () => {
    // torch.nn.functional.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=4, mode="bilinear")
    const expected = [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3];
    Array.from(bilinear([0, 1, 2, 3], 2, 2, 4, 4)).forEach((v, i) => expect(v).toBeCloseTo(expected[i], 6));
  });
  test("patchAt", () => {
    expect(patchAt(0, 0, 100, 100, 4, 4)).toEqual({ r: 0, c: 0 });
    expect(patchAt(99, 26, 100, 100, 4, 4)).toEqual({ r: 1, c: 3 });
    expect(patchAt(100, 5, 100, 100, 4, 4)).toBeNull();
  });
});

describe("pool and wrap", () => {
  test("average pooling, also with uneven cells", () => {
    const m = Array.from({ length: 16 }, (_, k) => k);
    expect(Array.from(pool(m, 0, 4, 2))).toEqual([2.5, 4.5, 10.5, 12.5]);
    const p = pool(Array.from({ length: 9 }, () => 1), 0, 3, 2);
    expect(Array.from(p)).toEqual([1, 1, 1, 1]);
    expect(Array.from(pool([0, 0, 1, 1, 1, 1], 2, 2, 2))).toEqual([1, 1, 1, 1]);
  });
  test("pool decodes through a table", () => {
    expect(Array.from(pool([1, 0, 0, 1], 0, 2, 1, new Float32Array([0, 10])))).toEqual([5]);
  });
  test("wrapBoxes wraps at the width and at breaks", () => {
    const pos = wrapBoxes([50, 50, 50, 50], 110, { gap: 4, lineH: 20, breaks: [false, false, false, true] });
    expect(pos).toEqual([{ x: 0, y: 0 }, { x: 54, y: 0 }, { x: 0, y: 20 }, { x: 0, y: 40 }]);
  });
});
