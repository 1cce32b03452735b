/**
 * Chooses one group's fp16 (min, scale) so that storing them in half precision cannot break the error bound.
 *
 * Rounding the min to nearest could land above the true min, and rounding the scale to nearest could land below
 * (max − min)/(2^b − 1); either would push the group's extreme elements outside the representable range and
 * clamp them, with an error far beyond half a step. So the min is rounded DOWN (min16 ≤ min) and the scale is the
 * smallest fp16 with min16 + (2^b − 1)·scale16 ≥ max. Codes are then computed from these stored values, and every
 * element x ∈ [min, max] ⊂ [min16, min16 + L·scale16] has a code q ∈ [0, L] with |x − (min16 + q·scale16)| ≤
 * scale16/2 (plus the one float32 rounding of the dequantized value).
 *
 * Exactness: codes ≤ 255 times an 11-bit fp16 significand fit in 19 bits, so `code·scale16` is exact in float32,
 * and min16 + code·scale16 (multiples of 2^-24 below 2^25 in magnitude: 49 bits) is exact in float64: a float64
 * evaluation stored to a Float32Array is bit-identical to a float32 Mul-then-Add graph.
 *
 * A constant group whose value is representable in fp16 (0, for instance) gets scale 0 and dequantizes exactly;
 * a constant not representable in fp16 gets a tiny positive scale bridging min16 to it, still within the bound.
 */
import { f16BitsToF32, f32ToF16Bits } from '../../engine/safetensors';

/** Largest finite fp16 magnitude: groups with values beyond it cannot be encoded (min or scale would be inf). */
export const F16_MAX = 65504;

/** The fp16 value just below `h` (toward −inf), on bit patterns. */
export function f16NextDownBits(h: number): number {
  if (h === 0x0000) return 0x8001; // +0 → smallest negative subnormal
  return h & 0x8000 ? h + 1 : h - 1;
}

/** The fp16 value just above `h` (toward +inf), on bit patterns. */
export function f16NextUpBits(h: number): number {
  if (h === 0x8000) return 0x0001; // −0 → smallest positive subnormal
  return h & 0x8000 ? h - 1 : h + 1;
}

/**
 * Bits of the largest fp16 ≤ x. Round-to-nearest gives the floor or the ceiling (rounding is monotone and fp16
 * values are float32 values), so one step down when it came out above x is enough.
 */
export function f16FloorBits(x: number): number {
  const h = f32ToF16Bits(x);
  return f16BitsToF32(h) > x ? f16NextDownBits(h) : h;
}

/**
 * Encodes the range [lo, hi] of one group for `levels` = 2^b − 1 into mins[at] and scales[at] (fp16 bits).
 * Throws a RangeError for non-finite input or values beyond fp16's range, which would otherwise silently decode
 * as inf or NaN.
 */
export function encodeRange(
  lo: number,
  hi: number,
  levels: number,
  mins: Uint16Array,
  scales: Uint16Array,
  at: number,
): void {
  // Written so that NaN fails too.
  if (!(lo >= -F16_MAX && hi <= F16_MAX && lo <= hi)) {
    throw new RangeError(`group range [${lo}, ${hi}] is not finite or exceeds fp16 (±${F16_MAX})`);
  }
  const minBits = f16FloorBits(lo);
  const min16 = f16BitsToF32(minBits);
  let scaleBits = 0;
  const span = hi - min16;
  if (span > 0) {
    // Nearest first, then step up until the top code covers hi: at most a step or two, and the result is the
    // smallest covering fp16 (the one below it is < span/levels, so it cannot cover).
    scaleBits = f32ToF16Bits(span / levels);
    while (min16 + levels * f16BitsToF32(scaleBits) < hi) scaleBits = f16NextUpBits(scaleBits);
  }
  // Unreachable for |lo|, |hi| ≤ F16_MAX (span/levels ≤ 131008/3), kept as a guard for the invariant.
  if (scaleBits >= 0x7c00) throw new RangeError(`group range [${lo}, ${hi}] needs a scale beyond fp16`);
  mins[at] = minBits;
  scales[at] = scaleBits;
}
