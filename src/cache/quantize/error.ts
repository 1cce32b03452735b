/**
 * Quantization error metrics, as the cache reports them (DESIGN §3: relative Frobenius error per layer) and as
 * the calibration pass uses them to find layers whose 2-bit keys are outliers and need protecting.
 */
import { dequantizeKeys, quantizeKeys } from './keys';

/**
 * ‖x − x̂‖ / ‖x‖ (Frobenius), accumulated in float64. 0 when both are all-zero (nothing to lose); Infinity when
 * only the original is zero, since any error is then infinitely large relative to it.
 */
export function relativeError(original: Float32Array, dequantized: Float32Array): number {
  if (original.length !== dequantized.length) {
    throw new RangeError(`length mismatch: ${original.length} original vs ${dequantized.length} dequantized`);
  }
  let err = 0;
  let ref = 0;
  for (let i = 0; i < original.length; i++) {
    const x = original[i];
    const e = x - dequantized[i];
    err += e * e;
    ref += x * x;
  }
  if (err === 0) return 0;
  return Math.sqrt(err / ref);
}

/** Relative error of the block's keys after a 2-bit KIVI round trip: the calibration pass's outlier statistic. */
export function kiviKeyError2bit(block: Float32Array, tokens: number, d: number, groupSize: number): number {
  const q = quantizeKeys(block, tokens, d, 2, groupSize);
  return relativeError(block.subarray(0, tokens * d), dequantizeKeys(q));
}
