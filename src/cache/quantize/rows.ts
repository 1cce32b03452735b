/**
 * The two hot loops: quantize one token row into packed codes, and dequantize one packed row. Both take the
 * per-channel offset and scale already expanded into Float64Arrays (keys: the group's per-channel statistics;
 * values: each channel-group's statistics repeated over its channels), so keys and values share one kernel and
 * the inner loop has no division, no branch on the group and no allocation. Each bit width has its own unrolled
 * loop: with the codes-per-byte count a constant the JIT keeps everything in registers (about 2× faster than one
 * generic loop over a variable shift).
 */
import type { PackedBits } from './block';

/**
 * One code: round((x − base)·inv) clamped to [0, levels], inv = 1/scale16 (0 for scale 0, sending a constant group
 * to code 0). floor(t + 0.5) via `| 0` is round-half-up and exact for t ≥ −0.5; the clamp only guards against
 * float rounding at the range's ends, since base ≤ x ≤ base + levels·scale.
 */
function code(x: number, base: number, inv: number, levels: number): number {
  const q = ((x - base) * inv + 0.5) | 0;
  return q > levels ? levels : q < 0 ? 0 : q;
}

/** Writes the d codes of src[srcOff ..) as d·bits/8 bytes at dst[dstOff ..) (every byte overwritten). */
export function encodeRow(
  src: Float32Array,
  srcOff: number,
  d: number,
  base: Float64Array,
  inv: Float64Array,
  bits: PackedBits,
  dst: Uint8Array,
  dstOff: number,
): void {
  if (bits === 2) {
    for (let c = 0, j = dstOff; c < d; c += 4, j++) {
      const s = srcOff + c;
      dst[j] =
        code(src[s], base[c], inv[c], 3) |
        (code(src[s + 1], base[c + 1], inv[c + 1], 3) << 2) |
        (code(src[s + 2], base[c + 2], inv[c + 2], 3) << 4) |
        (code(src[s + 3], base[c + 3], inv[c + 3], 3) << 6);
    }
  } else if (bits === 4) {
    for (let c = 0, j = dstOff; c < d; c += 2, j++) {
      const s = srcOff + c;
      dst[j] = code(src[s], base[c], inv[c], 15) | (code(src[s + 1], base[c + 1], inv[c + 1], 15) << 4);
    }
  } else {
    for (let c = 0; c < d; c++) dst[dstOff + c] = code(src[srcOff + c], base[c], inv[c], 255);
  }
}

/**
 * Inverse of `encodeRow`: out[outOff + c] = base[c] + code·scale[c]. The product and the sum are exact in float64
 * (see fp16-range.ts), so the one rounding is the store into the Float32Array, as in a float32 Mul-then-Add graph.
 */
export function decodeRow(
  codes: Uint8Array,
  codeOff: number,
  d: number,
  base: Float64Array,
  scale: Float64Array,
  bits: PackedBits,
  out: Float32Array,
  outOff: number,
): void {
  if (bits === 2) {
    for (let c = 0, j = codeOff; c < d; c += 4, j++) {
      const byte = codes[j];
      const o = outOff + c;
      out[o] = base[c] + (byte & 3) * scale[c];
      out[o + 1] = base[c + 1] + ((byte >> 2) & 3) * scale[c + 1];
      out[o + 2] = base[c + 2] + ((byte >> 4) & 3) * scale[c + 2];
      out[o + 3] = base[c + 3] + (byte >> 6) * scale[c + 3];
    }
  } else if (bits === 4) {
    for (let c = 0, j = codeOff; c < d; c += 2, j++) {
      const byte = codes[j];
      out[outOff + c] = base[c] + (byte & 15) * scale[c];
      out[outOff + c + 1] = base[c + 1] + (byte >> 4) * scale[c + 1];
    }
  } else {
    for (let c = 0; c < d; c++) out[outOff + c] = base[c] + codes[codeOff + c] * scale[c];
  }
}
