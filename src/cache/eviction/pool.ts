/**
 * Step 1: average-pool window attention along keys, then renormalise over the segment's keys.
 *
 * SnapKV (Li et al. 2024, arXiv 2404.14469), kept by DefensiveKV (Feng et al. 2025, arXiv 2510.13334):
 * kernel 5. Pooling spreads a spike to its neighbours so that a kept identifier keeps the tokens it is written
 * with (a lone kept sub-token is of little use to the model). Padding is "same" with a window that shrinks at
 * the segment's edges, so edge tokens are averaged over real neighbours, not over zeros or over sink columns.
 * Renormalising each row over the candidates removes the share a query gave the sink and the probe: that
 * share says nothing about which segment token matters, and would make queries that lean on the sink count less.
 */
import type { SegmentShape } from './types';

/**
 * windowProbs [kvHeads, G, W, S] → [kvHeads, G, W, n]; each output row sums to 1 (or is all zero when its
 * query gave the segment no attention at all). `out` may be passed to reuse one buffer across layers.
 */
export function poolWindow(
  windowProbs: Float32Array,
  shape: SegmentShape,
  kernel: number,
  out?: Float32Array,
): Float32Array {
  if (!Number.isInteger(kernel) || kernel < 1 || kernel % 2 === 0) {
    throw new Error(`poolKernel must be a positive odd integer, got ${kernel}`);
  }
  const n = shape.tokens;
  const S = shape.sinkLen + n + shape.probeLen;
  const rows = shape.kvHeads * shape.groupHeads * shape.window;
  const pooled = out && out.length >= rows * n ? out.subarray(0, rows * n) : new Float32Array(rows * n);
  const half = (kernel - 1) / 2;
  // Interior tokens [lo, hi) see the full kernel; the up to 2·half edge tokens are averaged directly.
  const lo = Math.min(half, n);
  const hi = Math.max(lo, n - half);
  const invKernel = 1 / kernel;
  for (let r = 0; r < rows; r++) {
    const src = r * S + shape.sinkLen; // first candidate column of this row
    const dst = r * n;
    let rowSum = 0;
    for (let j = 0; j < lo; j++) pooled[dst + j] = edgeAverage(windowProbs, src, n, j, half);
    for (let j = hi; j < n; j++) pooled[dst + j] = edgeAverage(windowProbs, src, n, j, half);
    for (let j = 0; j < lo; j++) rowSum += pooled[dst + j];
    for (let j = hi; j < n; j++) rowSum += pooled[dst + j];
    if (hi > lo) {
      // Sliding sum: O(n) per row whatever the kernel.
      let windowSum = 0;
      for (let k = 0; k < kernel; k++) windowSum += windowProbs[src + k];
      for (let j = lo; j < hi; j++) {
        if (j > lo) windowSum += windowProbs[src + j + half] - windowProbs[src + j - half - 1];
        const v = windowSum > 0 ? windowSum * invKernel : 0; // a running sum of zeros may round below 0
        pooled[dst + j] = v;
        rowSum += v;
      }
    }
    if (rowSum > 0) {
      const inv = 1 / rowSum;
      for (let j = 0; j < n; j++) pooled[dst + j] *= inv;
    }
  }
  return pooled;
}

/** Mean of row[j − half .. j + half] clipped to the segment: the window shrinks at the edges. */
function edgeAverage(probs: Float32Array, src: number, n: number, j: number, half: number): number {
  const from = Math.max(0, j - half);
  const to = Math.min(n - 1, j + half);
  let sum = 0;
  for (let k = from; k <= to; k++) sum += probs[src + k];
  return sum / (to - from + 1);
}
