/**
 * Range search for one quantization group (issue 10): min–max ranges waste most of a 2-bit grid on the group's
 * two extremes. For roughly Gaussian data (coder-15m's keys and values: `bench kv-outliers`), a uniform 4-level
 * grid has the least squared error with a step near σ, while the min–max step of a 32- or 64-element group is
 * 1.4–1.6σ. So each group tries the range shrunk about its midpoint by a few factors and keeps the one with the
 * least squared error of the group's own elements; elements outside are clamped to the end codes. The codes
 * stay uniform, so the fused (MatMulNBits) layout reads them unchanged, and the stored (min, scale) carry the
 * choice: nothing else in the format changes.
 */

/** Shrink factors tried, 1 (min–max) first: a smaller range must be strictly better to be chosen. */
export const CLIP_FACTORS: readonly number[] = [1, 0.9, 0.8, 0.7, 0.6, 0.5];

export type RangeSearch = 'minmax' | 'mse';

/**
 * The range [lo', hi'] ⊆ [lo, hi] with the least squared error over the n elements x[off + i·stride], for
 * `levels` + 1 uniform codes (rounded to nearest, clamped to the ends).
 */
export function mseClippedRange(
  x: Float32Array,
  off: number,
  stride: number,
  n: number,
  lo: number,
  hi: number,
  levels: number,
): [number, number] {
  if (!(hi > lo)) return [lo, hi];
  const mid = (lo + hi) / 2;
  let best: [number, number] = [lo, hi];
  let bestErr = Infinity;
  for (const f of CLIP_FACTORS) {
    const l = mid - (f * (hi - lo)) / 2;
    const step = (f * (hi - lo)) / levels;
    let err = 0;
    for (let i = 0; i < n; i++) {
      const v = x[off + i * stride]!;
      let q = Math.round((v - l) / step);
      q = q < 0 ? 0 : q > levels ? levels : q;
      const e = v - (l + q * step);
      err += e * e;
    }
    if (err < bestErr) {
      bestErr = err;
      best = [l, l + f * (hi - lo)];
    }
  }
  return best;
}
