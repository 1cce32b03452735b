/**
 * Quantization in onnxruntime's MatMulNBits layout (kernels/fused-attention.ts), the transpose of KIVI's choice
 * for both tensors, because MatMulNBits quantizes B in blocks along the reduction axis:
 *
 *   keys   — per token over blocks of `blockSize` channels (Q·Kᵀ reduces over channels), after dividing each
 *            channel by the smoothing vector s (smoothing.ts): outlier channels would otherwise set every
 *            token's range. Codes token-major, exactly the rows MatMulNBits reads as B [Sc, d/bs, bs·b/8].
 *   values — per channel over blocks of `blockSize` consecutive kept tokens (P·V reduces over tokens). Codes
 *            channel-major: channel c's codes along the tokens, ⌈n·b/8⌉ bytes per channel, B [d, Sc/bs, bs·b/8]
 *            once the block is assembled.
 *
 * Both reuse the KIVI quantizers (src/cache/quantize) on the other axis, so the statistics are the same fp16
 * (min, scale) pairs with the same half-a-step bound and the same bytes per token; only the code order and the
 * statistics' axis differ. The kernel wants (zero, scale) with x̂ = (code − zero)·scale: `kernelStats` converts,
 * and the dequantizers here compute exactly that, in float32, so tests can compare the graph with them.
 */
import { f16BitsToF32 } from '../../engine/safetensors';
import type { Bits } from '../cache-config';
import { quantizeKeys, quantizeValues } from '../quantize';

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
  /** 16 bits only: the float32 data, token-major [tokens, channels] (keys NOT smoothed). */
  raw?: Float32Array;
}

/** Bytes of one channel's codes in a values block of `tokens` tokens. */
export function channelRowBytes(tokens: number, bits: 2 | 4 | 8): number {
  return Math.ceil((tokens * bits) / 8);
}

export function quantizeFusedKeys(
  block: Float32Array,
  tokens: number,
  d: number,
  bits: Bits,
  blockSize: number,
  /** The smoothing vector s [d]; keys are stored as k / s. */
  smooth: Float32Array,
): FusedQuantized {
  if (bits === 16) {
    return { kind: 'keys', bits, blockSize, tokens, channels: d, ...emptyCodes(), raw: block.slice(0, tokens * d) };
  }
  const smoothed = new Float32Array(tokens * d);
  for (let t = 0; t < tokens; t++) {
    for (let c = 0; c < d; c++) smoothed[t * d + c] = block[t * d + c]! / smooth[c]!;
  }
  // Per token over groups of channels is KIVI's value quantizer.
  const q = quantizeValues(smoothed, tokens, d, bits, blockSize);
  return {
    kind: 'keys',
    bits,
    blockSize: q.groupSize,
    tokens,
    channels: d,
    codes: q.codes,
    mins: q.mins,
    scales: q.scales,
  };
}

export function quantizeFusedValues(
  block: Float32Array,
  tokens: number,
  d: number,
  bits: Bits,
  blockSize: number,
): FusedQuantized {
  if (bits === 16) {
    return { kind: 'values', bits, blockSize, tokens, channels: d, ...emptyCodes(), raw: block.slice(0, tokens * d) };
  }
  // Per channel over groups of tokens is KIVI's key quantizer; transpose its codes and statistics.
  const q = quantizeKeys(block, tokens, d, bits, blockSize);
  const groups = Math.ceil(tokens / blockSize);
  const mins = new Uint16Array(d * groups);
  const scales = new Uint16Array(d * groups);
  for (let g = 0; g < groups; g++) {
    for (let c = 0; c < d; c++) {
      mins[c * groups + g] = q.mins[g * d + c]!;
      scales[c * groups + g] = q.scales[g * d + c]!;
    }
  }
  return {
    kind: 'values',
    bits,
    blockSize,
    tokens,
    channels: d,
    codes: channelMajor(q.codes, tokens, d, bits as 2 | 4 | 8),
    mins,
    scales,
  };
}

function emptyCodes() {
  return { codes: new Uint8Array(0), mins: new Uint16Array(0), scales: new Uint16Array(0) };
}

/** Token-major packed codes [n][d·b/8] → channel-major [d][⌈n·b/8⌉], both low bits first. */
export function channelMajor(codes: Uint8Array, tokens: number, d: number, bits: 2 | 4 | 8): Uint8Array {
  const rowIn = (d * bits) / 8;
  const rowOut = channelRowBytes(tokens, bits);
  const mask = (1 << bits) - 1;
  const out = new Uint8Array(d * rowOut);
  for (let t = 0; t < tokens; t++) {
    const tBit = t * bits;
    const outByte = tBit >> 3;
    const outShift = tBit & 7;
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

/** Dequantized keys [tokens, d] in the original space (k̂ / s · s), as the graph's Q·Kᵀ sees them. */
export function dequantizeFusedKeys(q: FusedQuantized, smooth: Float32Array): Float32Array {
  const { tokens, channels: d, bits, blockSize } = q;
  if (bits === 16) return q.raw!.slice();
  const perToken = d / blockSize;
  const row = (d * bits) / 8;
  const mask = (1 << bits) - 1;
  const out = new Float32Array(tokens * d);
  for (let t = 0; t < tokens; t++) {
    for (let b = 0; b < perToken; b++) {
      const stats = kernelStats(q.mins[t * perToken + b]!, q.scales[t * perToken + b]!);
      for (let c = b * blockSize; c < (b + 1) * blockSize; c++) {
        const bit = c * bits;
        const code = (q.codes[t * row + (bit >> 3)]! >> (bit & 7)) & mask;
        out[t * d + c] = Math.fround(decode(code, stats) * smooth[c]!);
      }
    }
  }
  return out;
}

/** Dequantized values [tokens, d], token-major. */
export function dequantizeFusedValues(q: FusedQuantized): Float32Array {
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
  return out;
}

/** Bytes held: codes, fp16 statistics and raw data (the same accounting as src/cache/quantize). */
export function fusedBytes(q: FusedQuantized): number {
  return q.codes.byteLength + q.mins.byteLength + q.scales.byteLength + (q.raw?.byteLength ?? 0);
}
