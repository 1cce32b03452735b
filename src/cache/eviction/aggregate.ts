/**
 * Step 2: combine the pooled window rows of one key-value group into one score per token.
 *
 * Over the G query heads sharing a key-value head and over the W window queries:
 * - `max` (DefensiveKV, Feng et al. 2025, arXiv 2510.13334): the worst case. A token that one query of one
 *   head needed badly is kept, because importance measured on the window is fragile and the future query that
 *   needs it may look like that one rather than like the average.
 * - `mean` (SnapKV, Li et al. 2024, arXiv 2404.14469; kvpress averages grouped heads the same way).
 */
import type { Aggregation } from '../cache-config';
import type { SegmentShape } from './types';

/** rows [kvHeads, G, W, n] → scores [kvHeads, n]. */
export function aggregateWindow(rows: Float32Array, shape: SegmentShape, mode: Aggregation): Float32Array {
  const n = shape.tokens;
  const perGroup = shape.groupHeads * shape.window; // rows feeding one key-value head
  const scores = new Float32Array(shape.kvHeads * n);
  for (let h = 0; h < shape.kvHeads; h++) {
    const dst = h * n;
    // Accumulate in doubles for the mean so that long windows do not lose small contributions.
    const acc = mode === 'mean' ? new Float64Array(n) : null;
    for (let r = 0; r < perGroup; r++) {
      const src = (h * perGroup + r) * n;
      if (acc) {
        for (let j = 0; j < n; j++) acc[j] += rows[src + j];
      } else {
        // Probabilities are ≥ 0, so the zero-initialised output is a valid start for the max.
        for (let j = 0; j < n; j++) if (rows[src + j] > scores[dst + j]) scores[dst + j] = rows[src + j];
      }
    }
    if (acc) for (let j = 0; j < n; j++) scores[dst + j] = acc[j] / perGroup;
  }
  return scores;
}
