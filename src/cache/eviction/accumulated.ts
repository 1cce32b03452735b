/**
 * Baseline scorer: accumulated attention (H2O, "Heavy-Hitter Oracle", Zhang et al. 2023, arXiv 2306.14048).
 *
 * A token's score is the attention it received summed over every query row of the segment, averaged over the
 * G query heads of its key-value group (the mean ranks exactly like the sum and keeps scales comparable across
 * models with different G). Causal masking favours early tokens (more rows can see them): that bias is H2O's,
 * kept on purpose since this is the baseline the window scorers are measured against.
 */
import type { SegmentShape } from './types';

/** allProbsColumnSums [kvHeads, G, S] → scores [kvHeads, n] over the segment's columns. */
export function accumulatedScores(columnSums: Float32Array, shape: SegmentShape): Float32Array {
  const n = shape.tokens;
  const G = shape.groupHeads;
  const S = shape.sinkLen + n + shape.probeLen;
  const scores = new Float32Array(shape.kvHeads * n);
  for (let h = 0; h < shape.kvHeads; h++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let g = 0; g < G; g++) sum += columnSums[(h * G + g) * S + shape.sinkLen + j];
      scores[h * n + j] = sum / G;
    }
  }
  return scores;
}
