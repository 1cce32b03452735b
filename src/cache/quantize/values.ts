/**
 * Value quantization, KIVI-style: per token over groups of `groupSize` consecutive channels (capped at d; d must
 * be a multiple of the group). Values have no outlier channels to speak of, and attention mixes them per token,
 * so a per-token range keeps each token's error proportional to its own magnitude.
 *
 * Statistics: mins/scales[t·(d/G) + j] for token t and channel group j = channels [j·G, (j+1)·G). The stored
 * `groupSize` is the effective G (after the cap). Codes: the packed token-major layout of pack.ts.
 */
import type { Bits } from '../cache-config';
import { f16BitsToF32 } from '../../engine/safetensors';
import { checkBlockArgs, checkQuantized, rawBlock, type QuantizedValues } from './block';
import { mseClippedRange, type RangeSearch } from './clip';
import { encodeRange } from './fp16-range';
import { codeMask, packedRowBytes } from './pack';
import { decodeRow, encodeRow } from './rows';

/** Channels per value group: the requested size capped at d, which must then divide d. */
export function valueGroupSize(d: number, groupSize: number): number {
  const g = Math.min(groupSize, d);
  if (d % g !== 0) throw new RangeError(`channels (${d}) must be a multiple of the value group size (${g})`);
  return g;
}

export function quantizeValues(
  block: Float32Array,
  tokens: number,
  d: number,
  bits: Bits,
  groupSize: number,
  /** `mse`: each group's range chosen by least squared error (clip.ts) instead of its min and max. */
  range: RangeSearch = 'minmax',
): QuantizedValues {
  checkBlockArgs(block, tokens, d, bits, groupSize);
  const size = valueGroupSize(d, groupSize);
  if (bits === 16) return rawBlock('values', block, tokens, d, size);
  const levels = codeMask(bits);
  const rowBytes = packedRowBytes(d, bits);
  const perToken = d / size;
  const codes = new Uint8Array(tokens * rowBytes);
  const mins = new Uint16Array(tokens * perToken);
  const scales = new Uint16Array(tokens * perToken);
  // The stored (min, 1/scale) of each channel group, expanded over its channels for the shared row kernel.
  const base = new Float64Array(d);
  const inv = new Float64Array(d);

  for (let t = 0; t < tokens; t++) {
    const row = t * d;
    for (let j = 0; j < perToken; j++) {
      const c0 = j * size;
      let lo = Infinity;
      let hi = -Infinity;
      for (let c = c0; c < c0 + size; c++) {
        const v = block[row + c];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        // NaN wins no comparison, so it is caught here; ±inf fails the range check in encodeRange.
        if (v !== v) throw new RangeError(`values token ${t} contains NaN`);
      }
      const at = t * perToken + j;
      if (range === 'mse') {
        const [l, h] = mseClippedRange(block, row + c0, 1, size, lo, hi, levels);
        encodeRange(l, h, levels, mins, scales, at);
      } else encodeRange(lo, hi, levels, mins, scales, at);
      const m = f16BitsToF32(mins[at]);
      const s = f16BitsToF32(scales[at]);
      const r = s > 0 ? 1 / s : 0;
      // Plain loops: TypedArray.fill is a builtin call, measurable at a few calls per 128-channel row.
      for (let c = c0; c < c0 + size; c++) {
        base[c] = m;
        inv[c] = r;
      }
    }
    encodeRow(block, row, d, base, inv, bits, codes, t * rowBytes);
  }
  return { kind: 'values', bits, groupSize: size, tokens, channels: d, codes, mins, scales };
}

export function dequantizeValues(q: QuantizedValues): Float32Array {
  const { tokens, channels: d, bits } = q;
  const size = valueGroupSize(d, q.groupSize);
  const perToken = d / size;
  checkQuantized(q, 'values', tokens * perToken);
  if (bits === 16) return (q.raw as Float32Array).slice();
  const rowBytes = packedRowBytes(d, bits);
  const out = new Float32Array(tokens * d);
  const base = new Float64Array(d);
  const scale = new Float64Array(d);
  for (let t = 0; t < tokens; t++) {
    for (let j = 0; j < perToken; j++) {
      const at = t * perToken + j;
      const m = f16BitsToF32(q.mins[at]);
      const s = f16BitsToF32(q.scales[at]);
      for (let c = j * size; c < (j + 1) * size; c++) {
        base[c] = m;
        scale[c] = s;
      }
    }
    decodeRow(q.codes, t * rowBytes, d, base, scale, bits, out, t * d);
  }
  return out;
}
