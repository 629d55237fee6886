// @ts-check
/**
 * Binary tensors from the kernel. Python sends `{dtype, shape, buffer, scale?}` where `buffer` holds little-endian
 * float16, float32 or uint8 values and the decoded value is `stored * scale` (a power of two chosen in Python so
 * float16 keeps its relative precision for small relevance values). Bytes arrive as a DataView that may start at an
 * odd offset inside a larger ArrayBuffer: copy them to a fresh, aligned buffer before making a typed array.
 */

/**
 * @typedef {DataView | ArrayBuffer | Uint8Array} BufferLike
 * @typedef {{dtype: string, shape: number[], buffer: BufferLike, scale?: number}} Encoded
 * @typedef {{dtype: string, shape: number[], data: Float32Array}} FloatTensor
 * @typedef {{dtype: string, shape: number[], data: Uint8Array}} ByteTensor
 * @typedef {{shape: number[], bits: Uint16Array, scale: number}} HalfTensor
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** @param {unknown} x @returns {x is ArrayBuffer} */
function isArrayBuffer(x) {
  return Object.prototype.toString.call(x) === "[object ArrayBuffer]";
}

/**
 * A fresh ArrayBuffer holding exactly the bytes of `buffer` (aligned at offset 0).
 * @param {BufferLike} buffer
 * @returns {ArrayBuffer}
 */
export function alignedBytes(buffer) {
  if (isArrayBuffer(buffer)) return buffer;
  if (ArrayBuffer.isView(buffer)) {
    const view = /** @type {ArrayBufferView} */ (buffer);
    const src = /** @type {ArrayBuffer} */ (view.buffer);
    return src.slice(view.byteOffset, view.byteOffset + view.byteLength);
  }
  throw new TypeError(`attnviz: expected bytes (DataView, ArrayBuffer or Uint8Array), got ${typeof buffer}`);
}

/** @param {number[]} shape */
export function numel(shape) {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * IEEE 754 half -> float.
 * @param {number} h 16 bits
 */
export function halfToFloat(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** @type {Float32Array | null} */
let TABLE = null;

/** All 65536 half values as floats: decoding is one lookup per value. */
export function halfTable() {
  if (!TABLE) {
    TABLE = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) TABLE[i] = halfToFloat(i);
  }
  return TABLE;
}

/**
 * float -> IEEE 754 half bits (round to nearest even). For tests and fixtures; the kernel does the real encoding.
 * @param {number} value
 */
export function floatToHalf(value) {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  return sign | half;
}

/**
 * Encode floats as the kernel would (little-endian float16), for tests and the static page's fixtures.
 * @param {ArrayLike<number>} values
 * @param {number[]} shape
 * @returns {Encoded}
 */
export function encodeHalf(values, shape) {
  const bytes = new Uint8Array(values.length * 2);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(2 * i, floatToHalf(values[i]), true);
  return { dtype: "float16", shape, buffer: new DataView(bytes.buffer), scale: 1 };
}

/**
 * @param {Encoded} enc
 * @param {number} width bytes per element
 */
function checked(enc, width) {
  if (!enc || !Array.isArray(enc.shape)) throw new TypeError("attnviz: tensor without a shape");
  const bytes = alignedBytes(enc.buffer);
  const n = numel(enc.shape);
  if (bytes.byteLength !== n * width) {
    throw new RangeError(`attnviz: ${enc.dtype} tensor of shape [${enc.shape}] needs ${n * width} bytes, got ${bytes.byteLength}`);
  }
  return { bytes, n };
}

/**
 * The raw float16 bits of a tensor, aligned, without decoding (for the [B, H, N, N] attention, decoded per layer).
 * @param {Encoded} enc
 * @returns {HalfTensor}
 */
export function halfBits(enc) {
  if (enc.dtype !== "float16") throw new TypeError(`attnviz: expected float16, got ${enc.dtype}`);
  const { bytes, n } = checked(enc, 2);
  let bits;
  if (LITTLE_ENDIAN) bits = new Uint16Array(bytes);
  else {
    const view = new DataView(bytes);
    bits = new Uint16Array(n);
    for (let i = 0; i < n; i++) bits[i] = view.getUint16(2 * i, true);
  }
  return { shape: enc.shape.slice(), bits, scale: enc.scale ?? 1 };
}

/**
 * Decode a float16 or float32 tensor to a Float32Array (values multiplied by `scale`).
 * @param {Encoded} enc
 * @returns {FloatTensor}
 */
export function decodeFloat(enc) {
  const scale = enc.scale ?? 1;
  if (enc.dtype === "float16") {
    const { shape, bits } = halfBits(enc);
    const table = halfTable();
    const data = new Float32Array(bits.length);
    for (let i = 0; i < bits.length; i++) data[i] = table[bits[i]] * scale;
    return { dtype: "float16", shape, data };
  }
  if (enc.dtype === "float32") {
    const { bytes, n } = checked(enc, 4);
    let data;
    if (LITTLE_ENDIAN) data = new Float32Array(bytes);
    else {
      const view = new DataView(bytes);
      data = new Float32Array(n);
      for (let i = 0; i < n; i++) data[i] = view.getFloat32(4 * i, true);
    }
    if (scale !== 1) for (let i = 0; i < n; i++) data[i] *= scale;
    return { dtype: "float32", shape: enc.shape.slice(), data };
  }
  throw new TypeError(`attnviz: cannot decode dtype ${enc.dtype} as floats`);
}

/**
 * Decode a uint8 tensor (an RGB image [h, w, 3]).
 * @param {Encoded} enc
 * @returns {ByteTensor}
 */
export function decodeBytes(enc) {
  if (enc.dtype !== "uint8") throw new TypeError(`attnviz: expected uint8, got ${enc.dtype}`);
  const { bytes } = checked(enc, 1);
  return { dtype: "uint8", shape: enc.shape.slice(), data: new Uint8Array(bytes) };
}

/**
 * Row `i` of a decoded 2-D (or higher, flattened after the first axis) tensor, as a view.
 * @param {FloatTensor} t
 * @param {number} i
 */
export function row(t, i) {
  const width = numel(t.shape.slice(1));
  return t.data.subarray(i * width, (i + 1) * width);
}
