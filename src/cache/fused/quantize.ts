/**
 * Quantization in onnxruntime's MatMulNBits layout (kernels/fused-attention.ts), the transpose of KIVI's choice
 * for both tensors, because MatMulNBits quantizes B in blocks along the reduction axis:
 *
 *   keys   — per token over blocks of `blockSize` channels (Q·Kᵀ reduces over channels), after two steps that
 *            keep outlier channels (Qwen2's key biases: offsets of 50–200 with a spread of a few units) from
 *            setting every token's range: subtract each channel's mean over groups of `centerGroup` tokens (fp16
 *            `centers`, added back in the graph as q·μ), then divide by the smoothing vector s (smoothing.ts).
 *            Without centering, 2-bit per-token blocks on such keys make a score error several times the
 *            scores' own spread, smoothing or not; centered, they match KIVI's per-channel keys
 *            (test/cache/fused-quantize.test.ts). Codes token-major: the rows MatMulNBits reads as
 *            B [Sc, d/bs, bs·b/8].
 *   values — per channel over blocks of `blockSize` consecutive kept tokens (P·V reduces over tokens). Codes
 *            channel-major: channel c's codes along the tokens, ⌈n·b/8⌉ bytes per channel, B [d, Sc/bs, bs·b/8]
 *            once the block is assembled.
 *
 * Both reuse the KIVI quantizers (src/cache/quantize) on the other axis, so the statistics are the same fp16
 * (min, scale) pairs with the same half-a-step bound; only the code order and the statistics' axis differ. The
 * kernel wants (zero, scale) with x̂ = (code − zero)·scale: `kernelStats` converts, and the dequantizers here
 * compute exactly that, in float32, so tests can compare the graph with them.
 */
import { f16BitsToF32, f32ToF16Bits } from '../../engine/safetensors';
import type { Bits } from '../cache-config';
import { quantizeKeys, quantizeValues } from '../quantize';
import type { RangeSearch } from '../quantize/clip';
import { rotateRows } from './rotation';

export interface FusedQuantized {
  /** `keys`: per token over channel blocks, token-major codes; `values`: per channel over token blocks, channel-major. */
  kind: 'keys' | 'values';
  bits: Bits;
  /** Channels per block (keys) or tokens per block (values; the last block may be shorter). */
  blockSize: number;
  tokens: number;
  channels: number;
  /** Packed codes, low bits first (see the file header for the row order). Empty at 16 bits. */
  codes: Uint8Array;
  /** fp16 bit patterns. Keys: [token][block]; values: [channel][block]. Empty at 16 bits. */
  mins: Uint16Array;
  scales: Uint16Array;
  /** Keys only: tokens per center group (0 = not centered) and the fp16 centers [group][channel]. */
  centerGroup: number;
  centers: Uint16Array;
  /** 16 bits only: the float32 data, token-major [tokens, channels] (keys neither centered nor smoothed). */
  raw?: Float32Array;
}

/** Bytes of one channel's codes in a values block of `tokens` tokens. */
export function channelRowBytes(tokens: number, bits: 2 | 4 | 8): number {
  return Math.ceil((tokens * bits) / 8);
}

function unquantized(kind: FusedQuantized['kind'], block: Float32Array, tokens: number, d: number, blockSize: number) {
  return {
    kind,
    bits: 16 as const,
    blockSize,
    tokens,
    channels: d,
    codes: new Uint8Array(0),
    mins: new Uint16Array(0),
    scales: new Uint16Array(0),
    centerGroup: 0,
    centers: new Uint16Array(0),
    raw: block.slice(0, tokens * d),
  };
}

/** fp16 per-channel means of each group of `group` consecutive tokens (the last group may be shorter). */
export function keyCenters(block: Float32Array, tokens: number, d: number, group: number): Uint16Array {
  const groups = Math.ceil(tokens / group);
  const centers = new Uint16Array(groups * d);
  const sum = new Float64Array(d);
  for (let g = 0; g < groups; g++) {
    sum.fill(0);
    const t1 = Math.min(tokens, (g + 1) * group);
    for (let t = g * group; t < t1; t++) for (let c = 0; c < d; c++) sum[c] += block[t * d + c]!;
    for (let c = 0; c < d; c++) centers[g * d + c] = f32ToF16Bits(sum[c]! / (t1 - g * group));
  }
  return centers;
}

/** (k − μ) / s in float32, token-major; μ from `centers` when centerGroup > 0. */
export function centeredSmoothed(
  block: Float32Array,
  tokens: number,
  d: number,
  smooth: Float32Array,
  centerGroup: number,
  centers: Uint16Array,
): Float32Array {
  const out = new Float32Array(tokens * d);
  for (let t = 0; t < tokens; t++) {
    const mu = centerGroup > 0 ? Math.floor(t / centerGroup) * d : -1;
    for (let c = 0; c < d; c++) {
      const x = block[t * d + c]!;
      out[t * d + c] = (mu < 0 ? x : Math.fround(x - f16BitsToF32(centers[mu + c]!))) / smooth[c]!;
    }
  }
  return out;
}

export function quantizeFusedKeys(
  block: Float32Array,
  tokens: number,
  d: number,
  bits: Bits,
  blockSize: number,
  /** The smoothing vector s [d]; keys are stored as (k − μ) / s. */
  smooth: Float32Array,
  /** Tokens per center group (the layout's value block), or 0 for no centering. */
  centerGroup = 0,
  /** Store ((k − μ)/s)·H (rotation.ts); the graph rotates the queries to match. */
  rotate = false,
  range: RangeSearch = 'minmax',
): FusedQuantized {
  if (bits === 16) return unquantized('keys', block, tokens, d, blockSize);
  const centers = centerGroup > 0 ? keyCenters(block, tokens, d, centerGroup) : new Uint16Array(0);
  const residuals = centeredSmoothed(block, tokens, d, smooth, centerGroup, centers);
  // Per token over groups of channels is KIVI's value quantizer.
  const q = quantizeValues(rotate ? rotateRows(residuals, tokens, d) : residuals, tokens, d, bits, blockSize, range);
  const { codes, mins, scales } = q;
  return { kind: 'keys', bits, blockSize: q.groupSize, tokens, channels: d, codes, mins, scales, centerGroup, centers };
}

export function quantizeFusedValues(
  block: Float32Array,
  tokens: number,
  d: number,
  bits: Bits,
  blockSize: number,
  /** Store v·H (rotation.ts); the graph rotates the block's context back. */
  rotate = false,
  range: RangeSearch = 'minmax',
): FusedQuantized {
  if (bits === 16) return unquantized('values', block, tokens, d, blockSize);
  // Per channel over groups of tokens is KIVI's key quantizer; transpose its codes and statistics.
  const q = quantizeKeys(rotate ? rotateRows(block, tokens, d) : block, tokens, d, bits, blockSize, range);
  const groups = Math.ceil(tokens / blockSize);
  const mins = new Uint16Array(d * groups);
  const scales = new Uint16Array(d * groups);
  for (let g = 0; g < groups; g++) {
    for (let c = 0; c < d; c++) {
      mins[c * groups + g] = q.mins[g * d + c]!;
      scales[c * groups + g] = q.scales[g * d + c]!;
    }
  }
  const codes = channelMajor(q.codes, tokens, d, bits as 2 | 4 | 8);
  return {
    kind: 'values',
    bits,
    blockSize,
    tokens,
    channels: d,
    codes,
    mins,
    scales,
    centerGroup: 0,
    centers: new Uint16Array(0),
  };
}

/** Token-major packed codes [n][d·b/8] → channel-major [d][⌈n·b/8⌉], both low bits first. */
export function channelMajor(codes: Uint8Array, tokens: number, d: number, bits: 2 | 4 | 8): Uint8Array {
  const rowIn = (d * bits) / 8;
  const rowOut = channelRowBytes(tokens, bits);
  const mask = (1 << bits) - 1;
  const out = new Uint8Array(d * rowOut);
  for (let t = 0; t < tokens; t++) {
    const outByte = (t * bits) >> 3;
    const outShift = (t * bits) & 7;
    for (let c = 0; c < d; c++) {
      const cBit = c * bits;
      const code = (codes[t * rowIn + (cBit >> 3)]! >> (cBit & 7)) & mask;
      out[c * rowOut + outByte] |= code << outShift;
    }
  }
  return out;
}

/**
 * The kernel's (scale, zero) for a stored fp16 (min, scale): x̂ = (code − zero)·scale = min + code·scale. A
 * constant group (scale 0) with a nonzero min gets scale |min| and zero ∓1, so code 0 still decodes to min.
 */
export function kernelStats(minBits: number, scaleBits: number): { scale: number; zero: number } {
  const min = f16BitsToF32(minBits);
  const scale = f16BitsToF32(scaleBits);
  if (scale > 0) return { scale, zero: Math.fround(-min / scale) };
  if (min === 0) return { scale: 0, zero: 0 };
  return { scale: Math.abs(min), zero: min > 0 ? -1 : 1 };
}

function decode(code: number, stats: { scale: number; zero: number }): number {
  return Math.fround(Math.fround(code - stats.zero) * stats.scale);
}

/** Dequantized keys [tokens, d] in the original space, dequant((k − μ)/s)·s + μ: what Q·Kᵀ sees. */
export function dequantizeFusedKeys(q: FusedQuantized, smooth: Float32Array, rotated = false): Float32Array {
  const { tokens, channels: d, bits, blockSize, centerGroup } = q;
  if (bits === 16) return q.raw!.slice();
  const perToken = d / blockSize;
  const row = (d * bits) / 8;
  const mask = (1 << bits) - 1;
  let codesOut: Float32Array = new Float32Array(tokens * d);
  for (let t = 0; t < tokens; t++) {
    for (let b = 0; b < perToken; b++) {
      const stats = kernelStats(q.mins[t * perToken + b]!, q.scales[t * perToken + b]!);
      for (let c = b * blockSize; c < (b + 1) * blockSize; c++) {
        const bit = c * bits;
        codesOut[t * d + c] = decode((q.codes[t * row + (bit >> 3)]! >> (bit & 7)) & mask, stats);
      }
    }
  }
  if (rotated) codesOut = rotateRows(codesOut, tokens, d); // H is its own inverse
  const out = new Float32Array(tokens * d);
  for (let t = 0; t < tokens; t++) {
    for (let c = 0; c < d; c++) {
      const x = Math.fround(codesOut[t * d + c]! * smooth[c]!);
      const mu = centerGroup > 0 ? f16BitsToF32(q.centers[Math.floor(t / centerGroup) * d + c]!) : 0;
      out[t * d + c] = Math.fround(x + mu);
    }
  }
  return out;
}

/** Dequantized values [tokens, d], token-major. */
export function dequantizeFusedValues(q: FusedQuantized, rotated = false): Float32Array {
  const { tokens, channels: d, bits, blockSize } = q;
  if (bits === 16) return q.raw!.slice();
  const groups = Math.ceil(tokens / blockSize);
  const row = channelRowBytes(tokens, bits);
  const mask = (1 << bits) - 1;
  const out = new Float32Array(tokens * d);
  for (let c = 0; c < d; c++) {
    for (let g = 0; g < groups; g++) {
      const stats = kernelStats(q.mins[c * groups + g]!, q.scales[c * groups + g]!);
      for (let t = g * blockSize; t < Math.min(tokens, (g + 1) * blockSize); t++) {
        const bit = t * bits;
        out[t * d + c] = decode((q.codes[c * row + (bit >> 3)]! >> (bit & 7)) & mask, stats);
      }
    }
  }
  return rotated ? rotateRows(out, tokens, d) : out;
}

/** Bytes held: codes, fp16 statistics and centers, raw data (the same accounting as src/cache/quantize). */
export function fusedBytes(q: FusedQuantized): number {
  return q.codes.byteLength + q.mins.byteLength + q.scales.byteLength + q.centers.byteLength + (q.raw?.byteLength ?? 0);
}
