/**
 * Which tokens are never evicted: the syntax layer's mask (header line, declaration names and signatures) plus
 * the header line's tokens given by count, so that a mask built without the header cannot lose the line that
 * tells the model where the segment lives. (The sink is outside the segment and never a candidate.)
 */
import type { SegmentScoringInputs } from './types';

/** → [n] 1 = protected. */
export function protectedTokens(inputs: SegmentScoringInputs): Uint8Array {
  const n = inputs.shape.tokens;
  const mask = new Uint8Array(n);
  for (let j = 0; j < n; j++) mask[j] = inputs.protectedMask[j] ? 1 : 0;
  mask.fill(1, 0, Math.min(n, inputs.headerTokens ?? 0));
  return mask;
}
