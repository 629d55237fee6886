import { describe, expect, test } from "vitest";
import { color, fmt, headColor, lut, NAMES, pick, rangeOf, readable, shortLabel, sig3, textColor, unionRange, unit } from "../src/colormap.js";

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

describe("ranges", () => {
  test("signed ranges are symmetric", () => {
    expect(rangeOf([-0.2, 0.5], true)).toEqual({ lo: -0.5, hi: 0.5, signed: true });
    expect(unit({ lo: -0.5, hi: 0.5, signed: true }, 0)).toBe(0.5);
  });
  test("unsigned ranges start at zero or below", () => {
    expect(rangeOf([0.2, 0.5], false)).toEqual({ lo: 0, hi: 0.5, signed: false });
    expect(rangeOf([-0.1, 0.5], false).lo).toBe(-0.1);
  });
  test("skipped entries and non-finite values do not set the range", () => {
    expect(rangeOf([9, 0.5, NaN], false, [true, false, false]).hi).toBe(0.5);
  });
  test("flat and empty maps get a usable range", () => {
    expect(rangeOf([0, 0], false)).toEqual({ lo: 0, hi: 1, signed: false });
    expect(rangeOf([], true)).toEqual({ lo: -1, hi: 1, signed: true });
  });
  test("union", () => {
    expect(unionRange([{ lo: 0, hi: 2, signed: false }, { lo: -1, hi: 1, signed: true }])).toEqual({ lo: -2, hi: 2, signed: true });
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
    expect(sig3(-2.5e5)).toBe("-2.50×10⁵");
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
