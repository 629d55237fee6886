import { describe, expect, test } from "vitest";
import { color, fmt, headColor, lut, NAMES, pick, readable, resolveScale, scaleRange, scaleText, shortLabel, sig3, textColor, unit } from "../src/colormap.js";

describe("colormaps", () => {
  test("ends are matplotlib's ends", () => {
    expect(color("viridis", 0)).toEqual([0x44, 0x01, 0x54]);
    expect(color("viridis", 1)).toEqual([0xfd, 0xe7, 0x25]);
    expect(color("rdbu", 0.5)).toEqual([0xf7, 0xf6, 0xf6]);
    expect(lut("reds").length).toBe(257 * 3);
  });
  test("every named map builds and clamps", () => {
    for (const n of NAMES) {
      expect(color(n, -5)).toEqual(color(n, 0));
      expect(color(n, 7)).toEqual(color(n, 1));
    }
    expect(() => lut("nope")).toThrow(/unknown colormap/);
  });
  test("pick: signed values always get a diverging map", () => {
    expect(pick("auto", true, "text")).toBe("rdbu");
    expect(pick("viridis", true, "image")).toBe("rdbu");
    expect(pick("auto", false, "text")).toBe("reds");
    expect(pick("auto", false, "image")).toBe("inferno");
    expect(pick("magma", false, "image")).toBe("magma");
  });
  test("text colour contrasts", () => {
    expect(textColor([255, 255, 255])).toBe("#111");
    expect(textColor([0x67, 0, 0x0d])).toBe("#fff");
  });
  test("head colours are distinct for 16 heads and defined beyond", () => {
    const set = new Set(Array.from({ length: 16 }, (_, h) => headColor(h).join(",")));
    expect(set.size).toBe(16);
    expect(headColor(40).every((c) => c >= 0 && c <= 255)).toBe(true);
  });
});

describe("colour-scale modes", () => {
  // attention flow on the demo: every token between 0.052 and 0.060
  const nearUniform = [0.052, 0.054, 0.06, 0.053, 0.058];
  test("auto never paints a near-uniform map as all maximum", () => {
    expect(resolveScale("auto", { signed: false, family: "gradient", values: nearUniform })).toBe("map");
    expect(resolveScale("auto", { signed: false, family: "attention", values: [0, 1] })).toBe("map");
    expect(resolveScale("auto", { signed: false, family: "gradient", values: [0, 0.2, 1] })).toBe("zero");
    expect(resolveScale("auto", { signed: true, family: "lrp", values: nearUniform })).toBe("symmetric");
    expect(resolveScale("rank", { signed: true })).toBe("rank");
    const r = scaleRange(nearUniform, resolveScale("auto", { signed: false, values: nearUniform }), false);
    const ts = nearUniform.map((v) => unit(r, v));
    expect(Math.min(...ts)).toBe(0);
    expect(Math.max(...ts)).toBe(1);
    // from zero the same map spans only 0.87..1 of the colour range: what the issue saw as "all dark red"
    const z = scaleRange(nearUniform, "zero", false);
    expect(Math.min(...nearUniform.map((v) => unit(z, v)))).toBeGreaterThan(0.85);
  });
  test("the legend names the mode and prints the range", () => {
    expect(scaleText(scaleRange(nearUniform, "map", false))).toBe("per map, min to max: 0.052 to 0.06");
    expect(scaleText(scaleRange([-2, 1], "symmetric", true))).toBe("symmetric around 0: -2 to 2");
    expect(scaleText(scaleRange([3e-6, 1e-6], "zero", false))).toBe("from zero: 0 to 3×10⁻⁶");
    expect(scaleText(scaleRange([1, 5, 2], "rank", false))).toBe("rank (percentile): 1 to 5");
  });
  test("signed maps keep zero in the middle whatever the mode", () => {
    for (const mode of ["map", "zero", "symmetric", "blocks"]) {
      const r = scaleRange([-0.1, 0.4], mode, true, { all: [[-0.1, 0.4]] });
      expect(unit(r, 0)).toBe(0.5);
    }
    const rank = scaleRange([-3, -1, 0.5, 2], "rank", true);
    expect(unit(rank, 0)).toBe(0.5);
    expect(unit(rank, -3)).toBe(0);
    expect(unit(rank, 2)).toBeCloseTo(0.5 + 0.5 * (2 / 3));
  });
  test("fixed across blocks: block 0 (max 4e-6) is drawn faint next to block 5", () => {
    const blocks = [[1e-6, 4e-6], [0.1, 0.2], [0.5, 1]];
    const r0 = scaleRange(blocks[0], "blocks", false, { all: blocks });
    expect(unit(r0, 4e-6)).toBeLessThan(1e-5);
    const perMap = scaleRange(blocks[0], "zero", false);
    expect(unit(perMap, 4e-6)).toBe(1);
  });
  test("rank: percentiles, ties share one, skipped entries left out", () => {
    const r = scaleRange([10, 20, 20, 30, 999], "rank", false, { skip: [false, false, false, false, true] });
    expect(unit(r, 10)).toBe(0);
    expect(unit(r, 20)).toBeCloseTo(0.5);
    expect(unit(r, 30)).toBe(1);
    expect(unit(scaleRange([7], "rank", false), 7)).toBe(1);
  });
  test("a flat positive map is drawn as what it is, not as an artificial spread", () => {
    const r = scaleRange([0.2, 0.2], "map", false);
    expect([r.lo, r.hi]).toEqual([0, 0.2]);
  });
});

describe("ranges", () => {
  test("signed ranges are symmetric", () => {
    expect(scaleRange([-0.2, 0.5], "symmetric", true)).toEqual({ lo: -0.5, hi: 0.5, signed: true, mode: "symmetric" });
    expect(unit({ lo: -0.5, hi: 0.5, signed: true }, 0)).toBe(0.5);
  });
  test("unsigned ranges start at zero or below", () => {
    expect(scaleRange([0.2, 0.5], "zero", false)).toEqual({ lo: 0, hi: 0.5, signed: false, mode: "zero" });
    expect(scaleRange([-0.1, 0.5], "zero", false).lo).toBe(-0.1);
  });
  test("skipped entries and non-finite values do not set the range", () => {
    expect(scaleRange([9, 0.5, NaN], "zero", false, { skip: [true, false, false] }).hi).toBe(0.5);
  });
  test("flat and empty maps get a usable range", () => {
    expect(scaleRange([0, 0], "zero", false)).toEqual({ lo: 0, hi: 1, signed: false, mode: "zero" });
    expect(scaleRange([], "symmetric", true)).toEqual({ lo: -1, hi: 1, signed: true, mode: "symmetric" });
  });
  test("fmt", () => {
    expect(fmt(0.5)).toBe("0.5");
    expect(fmt(0)).toBe("0");
    expect(fmt(12345)).toBe("1.23e+4");
    expect(fmt(-0.0001234)).toBe("-1.23e-4");
  });
});


describe("readable numbers and labels", () => {
  test("three significant digits, no e-notation, and the share of the largest value", () => {
    expect(sig3(0.123456)).toBe("0.123");
    expect(sig3(41.234)).toBe("41.2");
    expect(sig3(3.1623e-7)).toBe("3.16×10⁻⁷");
    expect(sig3(-2.5e5)).toBe("-2.5×10⁵");
    expect(readable(3.1623e-7, [7.5e-7, 3.1623e-7, 0])).toBe("3.16×10⁻⁷ (42% of max)");
    expect(readable(-0.5, [1, -0.5])).toBe("-0.5 (-50% of max)");
    expect(readable(0, [0, 0])).toBe("0");
    expect(readable(Number.NaN, [1])).toBe("NaN");
  });

  test("a long label is cut with an ellipsis", () => {
    const long = "x".repeat(10_000);
    expect(shortLabel(long)).toHaveLength(48);
    expect(shortLabel(long).endsWith("…")).toBe(true);
    expect(shortLabel("sandal")).toBe("sandal");
  });
});
