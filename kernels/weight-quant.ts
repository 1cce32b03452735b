/**
 * Block quantization of a checkpoint's projection weights into onnxruntime's `MatMulNBits` layout (com.microsoft),
 * done once when a quantized graph variant is built, and the plain dequantization the tests compare against.
 *
 * A weight W [N, K] (Hugging Face's Linear layout, out × in) is cut into blocks of `WEIGHT_BLOCK` values along K,
 * the reduction axis. Each block gets a float scale and an integer zero point (asymmetric round-to-nearest over
 * the block's range widened to include 0, so an exact zero stays exact): W ≈ (code − zero)·scale. The layout, as
 * the contrib-operator spec defines it and test/kernels/weight-quant.test.ts checks against onnxruntime:
 *   B           uint8 [N, kBlocks, blockSize·bits/8], codes packed low bits first along K;
 *   scales      float [N·kBlocks];
 *   zero_points uint8 [N·⌈kBlocks·bits/8⌉], packed the same way (two per byte at 4 bits, each row padded to a byte).
 * kBlocks = ⌈K / blockSize⌉; a last partial block is padded with zeros (MatMulNBits ignores codes past K).
 */

/** 32 = the checkpoint's weights as stored; 16 = fp16 weights; 8 and 4 = MatMulNBits blocks. */
export type WeightBits = 4 | 8 | 16 | 32;
export const WEIGHT_BITS: readonly WeightBits[] = [4, 8, 16, 32];
export const WEIGHT_BLOCK = 32;
/** Bump when quantizeBlockwise's output changes: it is part of the graph variant's key. */
export const QUANTIZER_VERSION = 3;

export interface BlockQuantized {
  n: number;
  k: number;
  bits: 4 | 8;
  blockSize: number;
  kBlocks: number;
  codes: Uint8Array;
  scales: Float32Array;
  zeroPoints: Uint8Array;
}

/** Bytes of packed zero points per row. */
function zeroBytesPerRow(kBlocks: number, bits: number): number {
  return Math.ceil((kBlocks * bits) / 8);
}

/** Writes `value` (< 2^bits) as the `index`-th `bits`-wide field of `out` starting at byte `base`, low bits first. */
function pack(out: Uint8Array, base: number, index: number, bits: number, value: number): void {
  if (bits === 8) {
    out[base + index] = value;
    return;
  }
  const perByte = 8 / bits;
  const byte = base + Math.floor(index / perByte);
  out[byte] = out[byte]! | (value << ((index % perByte) * bits));
}

function unpack(data: Uint8Array, base: number, index: number, bits: number): number {
  if (bits === 8) return data[base + index]!;
  const perByte = 8 / bits;
  return (data[base + Math.floor(index / perByte)]! >> ((index % perByte) * bits)) & ((1 << bits) - 1);
}

/**
 * Round-to-nearest still, but over the block's range shrunk by the factor (of SHRINK) that minimises the block's
 * squared error: clipping the one or two extreme weights of a block buys a finer step for the other thirty, which
 * at 4 bits lowers the error of Gaussian-like weights markedly (measured: KL in BENCHMARKS.md).
 */
const SHRINK = [1, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7];

function bestRange(w: Float32Array, start: number, end: number, lo: number, hi: number, levels: number) {
  let best = { scale: 1, zero: 0, error: Infinity };
  for (const f of SHRINK) {
    // Stored as float32 both here and in the graph, so the reference and onnxruntime use the same value.
    const scale = Math.fround(hi > lo ? ((hi - lo) * f) / levels : 1);
    const zero = Math.min(levels, Math.max(0, Math.round((-lo * f) / scale)));
    let error = 0;
    for (let i = start; i < end; i++) {
      const code = Math.min(levels, Math.max(0, Math.round(w[i]! / scale) + zero));
      const d = (code - zero) * scale - w[i]!;
      error += d * d;
    }
    if (error < best.error) best = { scale, zero, error };
    // At 8 bits a step is 1/255 of the range: clipping never pays (measured: identical codes), so skip the search.
    if (hi <= lo || levels > 15) break;
  }
  return best;
}

export function quantizeBlockwise(
  w: Float32Array,
  n: number,
  k: number,
  bits: 4 | 8,
  blockSize = WEIGHT_BLOCK,
): BlockQuantized {
  if (w.length !== n * k) throw new Error(`internal error: weight has ${w.length} values, [${n}, ${k}] needs ${n * k}`);
  const kBlocks = Math.ceil(k / blockSize);
  const blob = (blockSize * bits) / 8;
  const zRow = zeroBytesPerRow(kBlocks, bits);
  const codes = new Uint8Array(n * kBlocks * blob);
  const scales = new Float32Array(n * kBlocks);
  const zeroPoints = new Uint8Array(n * zRow);
  const levels = (1 << bits) - 1;
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < kBlocks; b++) {
      const start = row * k + b * blockSize;
      const end = row * k + Math.min(k, (b + 1) * blockSize);
      let lo = 0;
      let hi = 0;
      for (let i = start; i < end; i++) {
        const v = w[i]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const { scale, zero } = bestRange(w, start, end, lo, hi, levels);
      scales[row * kBlocks + b] = scale;
      pack(zeroPoints, row * zRow, b, bits, zero);
      const base = (row * kBlocks + b) * blob;
      for (let j = 0; j < blockSize; j++) {
        const i = start + j;
        // Padding past K holds the code of 0 so that the block dequantizes to exact zeros there.
        const code = i < end ? Math.min(levels, Math.max(0, Math.round(w[i]! / scale) + zero)) : zero;
        pack(codes, base, j, bits, code);
      }
    }
  }
  return { n, k, bits, blockSize, kBlocks, codes, scales, zeroPoints };
}

/** The weights a quantized graph really multiplies by, [N, K] float32: (code − zero)·scale. */
export function dequantizeBlockwise(q: BlockQuantized): Float32Array {
  const { n, k, bits, blockSize, kBlocks } = q;
  const blob = (blockSize * bits) / 8;
  const zRow = zeroBytesPerRow(kBlocks, bits);
  const out = new Float32Array(n * k);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < kBlocks; b++) {
      const scale = q.scales[row * kBlocks + b]!;
      const zero = unpack(q.zeroPoints, row * zRow, b, bits);
      const base = (row * kBlocks + b) * blob;
      for (let j = 0; j < blockSize && b * blockSize + j < k; j++) {
        out[row * k + b * blockSize + j] = Math.fround((unpack(q.codes, base, j, bits) - zero) * scale);
      }
    }
  }
  return out;
}

/** Bad user input (a CLI flag, a setting) gets one clear sentence. */
export function parseWeightBits(value: unknown): WeightBits {
  const n = typeof value === 'string' ? Number(value) : value;
  if (n === 16) {
    throw new RangeError(
      'weight bits 16 (fp16 weights) are not supported yet: on the CPU they would be widened back to fp32 at load; ' +
        'use 32 (exact), 8 or 4',
    );
  }
  if (n !== 4 && n !== 8 && n !== 32) throw new RangeError(`weight bits must be 4, 8 or 32, got "${String(value)}"`);
  return n;
}
