/**
 * Step 3: prior-risk correction — raise every score to at least its head's mean score.
 *
 * DefensiveKV (Feng et al. 2025, arXiv 2510.13334). The window only saw a few queries; a token that none of them
 * attended to has an estimated importance of almost zero, yet any future query might need it. Lifting low scores
 * to the head's mean says "no evidence against it, assume average", which (a) stops near-zero estimates from
 * ranking below noise and (b) lets the value-norm weighting (step 4) decide among these tokens, since they all
 * enter it with the same score. Scores above the mean are untouched, so the ranking of the evidenced tokens stays.
 */
import type { SegmentShape } from './types';

/** scores [kvHeads, n] → new [kvHeads, n] with score ≥ mean of its head. */
export function clampToHeadMean(scores: Float32Array, shape: SegmentShape): Float32Array {
  const n = shape.tokens;
  const out = new Float32Array(scores.length);
  for (let h = 0; h < shape.kvHeads; h++) {
    const base = h * n;
    let sum = 0;
    for (let j = 0; j < n; j++) sum += scores[base + j];
    // Rounded to float32 first, so that a score equal to the mean compares equal in the output array.
    const mean = Math.fround(sum / n);
    for (let j = 0; j < n; j++) out[base + j] = scores[base + j] > mean ? scores[base + j] : mean;
  }
  return out;
}
