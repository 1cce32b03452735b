/**
 * Key quantization, KIVI-style: per channel over groups of `groupSize` consecutive kept tokens. Keys have
 * outlier channels (Qwen's key biases: magnitudes 50–200 in a few channels), and a per-channel group gives each
 * channel its own range, so an outlier channel costs only its own precision.
 *
 * Statistics: mins/scales[g·d + c] for group g = tokens [g·G, min(n, (g+1)·G)) and channel c; there are
 * ceil(n/G) groups and the last one holds only the real tail tokens (its length follows from `tokens`), so no
 * padding ever enters a range. Codes: the packed token-major layout of pack.ts.
 */
import type { Bits } from '../cache-config';
import { f16BitsToF32 } from '../../engine/safetensors';
import { checkBlockArgs, checkQuantized, rawBlock, type QuantizedKeys } from './block';
import { mseClippedRange, type RangeSearch } from './clip';
import { encodeRange } from './fp16-range';
import { codeMask, packedRowBytes } from './pack';
import { decodeRow, encodeRow } from './rows';

export function keyGroupCount(tokens: number, groupSize: number): number {
  return Math.ceil(tokens / groupSize);
}

export function quantizeKeys(
  block: Float32Array,
  tokens: number,
  d: number,
  bits: Bits,
  groupSize: number,
  /** `mse`: each group's range chosen by least squared error (clip.ts) instead of its min and max. */
  range: RangeSearch = 'minmax',
): QuantizedKeys {
  checkBlockArgs(block, tokens, d, bits, groupSize);
  if (bits === 16) return rawBlock('keys', block, tokens, d, groupSize);
  const levels = codeMask(bits);
  const rowBytes = packedRowBytes(d, bits);
  const groups = keyGroupCount(tokens, groupSize);
  const codes = new Uint8Array(tokens * rowBytes);
  const mins = new Uint16Array(groups * d);
  const scales = new Uint16Array(groups * d);
  // Per-call scratch, reused by every group: the per-channel running range, then the stored (min, 1/scale).
  const lo = new Float64Array(d);
  const hi = new Float64Array(d);
  const base = new Float64Array(d);
  const inv = new Float64Array(d);

  for (let g = 0; g < groups; g++) {
    const t0 = g * groupSize;
    const t1 = Math.min(tokens, t0 + groupSize);
    lo.fill(Infinity);
    hi.fill(-Infinity);
    for (let t = t0; t < t1; t++) {
      const row = t * d;
      for (let c = 0; c < d; c++) {
        const v = block[row + c];
        if (v < lo[c]) lo[c] = v;
        if (v > hi[c]) hi[c] = v;
        // NaN wins no comparison, so it is caught here (±inf fails the range check in encodeRange). A branch,
        // never taken, instead of an accumulator: no loop-carried dependency in the hottest loop.
        if (v !== v) throw new RangeError(`keys group ${g} contains NaN`);
      }
    }
    for (let c = 0; c < d; c++) {
      const at = g * d + c;
      if (range === 'mse') {
        const [l, h] = mseClippedRange(block, t0 * d + c, d, t1 - t0, lo[c]!, hi[c]!, levels);
        encodeRange(l, h, levels, mins, scales, at);
      } else encodeRange(lo[c], hi[c], levels, mins, scales, at);
      base[c] = f16BitsToF32(mins[at]);
      const s = f16BitsToF32(scales[at]);
      inv[c] = s > 0 ? 1 / s : 0;
    }
    for (let t = t0; t < t1; t++) encodeRow(block, t * d, d, base, inv, bits, codes, t * rowBytes);
  }
  return { kind: 'keys', bits, groupSize, tokens, channels: d, codes, mins, scales };
}

export function dequantizeKeys(q: QuantizedKeys): Float32Array {
  const { tokens, channels: d, groupSize, bits } = q;
  const groups = keyGroupCount(tokens, groupSize);
  checkQuantized(q, 'keys', groups * d);
  if (bits === 16) return (q.raw as Float32Array).slice();
  const rowBytes = packedRowBytes(d, bits);
  const out = new Float32Array(tokens * d);
  const base = new Float64Array(d);
  const scale = new Float64Array(d);
  for (let g = 0; g < groups; g++) {
    for (let c = 0; c < d; c++) {
      base[c] = f16BitsToF32(q.mins[g * d + c]);
      scale[c] = f16BitsToF32(q.scales[g * d + c]);
    }
    const t1 = Math.min(tokens, (g + 1) * groupSize);
    for (let t = g * groupSize; t < t1; t++) decodeRow(q.codes, t * rowBytes, d, base, scale, bits, out, t * d);
  }
  return out;
}
