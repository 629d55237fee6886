import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { alignedBytes, decodeBytes, decodeFloat, encodeHalf, floatToHalf, halfBits, halfTable, halfToFloat, row } from "../src/codec.js";

const fixtures = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "fixtures", "python_tensors.json"), "utf8"));

/** Bytes placed at an odd offset inside a larger buffer, as a DataView (what ipywidgets may hand over). */
function unaligned(bytes, offset = 3) {
  const big = new Uint8Array(bytes.length + offset + 5);
  big.set(bytes, offset);
  return new DataView(big.buffer, offset, bytes.length);
}

function b64(s) {
  return Uint8Array.from(Buffer.from(s, "base64"));
}

describe("float16", () => {
  test("known values", () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(Number.isNaN(halfToFloat(0x7e00))).toBe(true);
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
  });

  test("every half value survives float -> half -> float", () => {
    const table = halfTable();
    const wrong = [];
    for (let bits = 0; bits < 65536; bits++) {
      const v = table[bits];
      if (!Number.isNaN(v) && floatToHalf(v) !== bits) wrong.push(bits);
    }
    expect(wrong).toEqual([]);
  });

  test("rounds to nearest even", () => {
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00);  // halfway, even stays
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalf(1e6)).toBe(0x7c00);
  });

  test("decodes numpy's bytes from an unaligned DataView", () => {
    const f = fixtures.half;
    const t = decodeFloat({ dtype: "float16", shape: f.shape, buffer: unaligned(b64(f.b64)) });
    expect(t.shape).toEqual([12]);
    f.expected.forEach((v, i) => expect(t.data[i]).toBe(v === "inf" ? Infinity : v));
  });

  test("scale multiplies", () => {
    const f = fixtures.scaled;
    const t = decodeFloat({ dtype: "float16", shape: f.shape, buffer: unaligned(b64(f.b64), 1), scale: f.scale });
    expect(Array.from(t.data)).toEqual(f.expected);
  });

  test("halfBits keeps the raw bits", () => {
    const enc = encodeHalf([0.25, 1], [2]);
    expect(Array.from(halfBits(enc).bits)).toEqual([0x3400, 0x3c00]);
  });
});

describe("float32 and uint8", () => {
  test("float32 from numpy, unaligned", () => {
    const f = fixtures.float32;
    const t = decodeFloat({ dtype: "float32", shape: f.shape, buffer: unaligned(b64(f.b64), 2) });
    f.expected.forEach((v, i) => expect(t.data[i]).toBeCloseTo(v, 6));
    expect(Array.from(row(t, 1))).toEqual(Array.from(t.data.slice(4, 8)));
  });

  test("uint8 image", () => {
    const t = decodeBytes({ dtype: "uint8", shape: [1, 2, 3], buffer: unaligned(Uint8Array.from([1, 2, 3, 4, 5, 6])) });
    expect(Array.from(t.data)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe("errors", () => {
  test("wrong byte count", () => {
    expect(() => decodeFloat({ dtype: "float16", shape: [3], buffer: new Uint8Array(4) })).toThrow(/needs 6 bytes, got 4/);
  });
  test("unknown dtype", () => {
    expect(() => decodeFloat({ dtype: "int64", shape: [1], buffer: new Uint8Array(8) })).toThrow(/int64/);
  });
  test("not bytes", () => {
    expect(() => alignedBytes(/** @type {any} */ ([1, 2]))).toThrow(TypeError);
  });
  test("aligned copy is independent of the source", () => {
    const src = new Uint8Array([9, 8, 7, 6]);
    const copy = new Uint8Array(alignedBytes(new DataView(src.buffer, 1, 2)));
    src[1] = 0;
    expect(Array.from(copy)).toEqual([8, 7]);
  });
});
