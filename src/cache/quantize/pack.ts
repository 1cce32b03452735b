/**
 * Code packing: THE byte layout shared by the TypeScript cache, the on-disk store and the ONNX attention graph.
 *
 * Notation: b = bits ∈ {2, 4, 8}, k = 8/b codes per byte, d = channels (headDim), n = tokens, codes are unsigned
 * integers in [0, 2^b − 1] (mask 2^b − 1).
 *
 *   - Rows are token-major: token t's codes occupy bytes [t·R, (t+1)·R) with R = d·b/8 = `packedRowBytes(d, b)`.
 *     d·b must be a multiple of 8, so every row starts on a byte boundary and the block layout is exactly
 *     `packCodes` applied to the flat token-major code array (code index i = t·d + c).
 *   - Code (t, c) is in byte t·R + floor(c·b/8) at bit offset (c·b) mod 8, little end first: channel c = j·k + i
 *     is bits [i·b, i·b + b) of the row's byte j, i.e. code = (byte >> (i·b)) & mask (`codeLocation`).
 *     Example, 2 bits: byte 0 of a row = c0 | c1 << 2 | c2 << 4 | c3 << 6.
 *   - 8 bits is one code per byte, the identity.
 *
 * Unpacking in ONNX (uint8 throughout): reshape codes [.., n, R] → [.., n, R, 1]; BitShift(direction="RIGHT") by
 * the constant uint8 tensor `UNPACK_SHIFTS[b]` = [0, b, 2b, ..] of shape [k] (broadcast → [.., n, R, k]);
 * BitwiseAnd with `codeMask(b)`; reshape [.., n, R·k] = [.., n, d]. The byte index is the slower axis, so the
 * channels come out in order. Dequantize: Cast codes to float32, then x̂ = min + code·scale (Mul then Add), with
 * min and scale the group's fp16 statistics Cast to float32 (keys: [groups, d] broadcast over the group's tokens;
 * values: [n, d/G] broadcast over each group's G channels). fp16-range.ts explains why that is exact.
 */
import type { PackedBits } from './block';

export const CODES_PER_BYTE: Readonly<Record<PackedBits, number>> = { 2: 4, 4: 2, 8: 1 };

/** Right-shift amounts that bring each code of a byte to the low bits, in channel order. */
export const UNPACK_SHIFTS: Readonly<Record<PackedBits, readonly number[]>> = {
  2: [0, 2, 4, 6],
  4: [0, 4],
  8: [0],
};

export function isPackedBits(bits: number): bits is PackedBits {
  return bits === 2 || bits === 4 || bits === 8;
}

function checkPackedBits(bits: number): asserts bits is PackedBits {
  if (!isPackedBits(bits)) throw new RangeError(`packed codes have 2, 4 or 8 bits, got ${bits}`);
}

export function codeMask(bits: PackedBits): number {
  return (1 << bits) - 1;
}

/** Bytes of one token's row of d codes. */
export function packedRowBytes(d: number, bits: PackedBits): number {
  if ((d * bits) % 8 !== 0) throw new RangeError(`channels·bits (${d}·${bits}) must be a multiple of 8`);
  return (d * bits) / 8;
}

/** Where the code of (token, channel) lives: byte index in the block's codes and right-shift within that byte. */
export function codeLocation(
  token: number,
  channel: number,
  d: number,
  bits: PackedBits,
): { byte: number; shift: number } {
  return { byte: token * packedRowBytes(d, bits) + ((channel * bits) >> 3), shift: (channel * bits) & 7 };
}

/**
 * Packs codes (each < 2^bits) little end first; a partial last byte has zero high bits. Throws on a code that
 * does not fit, since it would silently corrupt its neighbours.
 */
export function packCodes(codes: Uint8Array, bits: PackedBits): Uint8Array {
  checkPackedBits(bits);
  const mask = codeMask(bits);
  const out = new Uint8Array(Math.ceil((codes.length * bits) / 8));
  for (let byte = 0, i = 0; byte < out.length; byte++) {
    let acc = 0;
    for (let s = 0; s < 8 && i < codes.length; s += bits, i++) {
      const q = codes[i];
      if (q > mask) throw new RangeError(`code ${q} at index ${i} does not fit in ${bits} bits`);
      acc |= q << s;
    }
    out[byte] = acc;
  }
  return out;
}

/** Unpacks the first `count` codes. */
export function unpackCodes(packed: Uint8Array, bits: PackedBits, count: number): Uint8Array {
  checkPackedBits(bits);
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer`);
  const need = Math.ceil((count * bits) / 8);
  if (packed.length < need) throw new RangeError(`${count} codes need ${need} bytes, got ${packed.length}`);
  const mask = codeMask(bits);
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const bit = i * bits;
    out[i] = (packed[bit >> 3] >> (bit & 7)) & mask;
  }
  return out;
}
