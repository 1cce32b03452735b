/**
 * Shape checks at the boundary with the prefill graph: a mis-sized array would otherwise be read out of bounds
 * as zeros (typed arrays do not throw) and silently evict the wrong tokens of every cached segment.
 */
import type { ScorerSteps, SegmentScoringInputs } from './types';

export function checkInputs(inputs: SegmentScoringInputs, steps: ScorerSteps): void {
  const { tokens: n, kvHeads, groupHeads: G, window: W, sinkLen, probeLen } = inputs.shape;
  for (const [name, v] of Object.entries({ tokens: n, kvHeads, groupHeads: G, window: W, sinkLen, probeLen })) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`eviction: shape.${name} must be a non-negative integer`);
  }
  if (kvHeads < 1 || G < 1) throw new Error('eviction: kvHeads and groupHeads must be at least 1');
  if (steps.source === 'window' && W < 1) throw new Error('eviction: window scoring needs at least one query row');
  if (inputs.protectedMask.length !== n) {
    throw new Error(`eviction: protectedMask has ${inputs.protectedMask.length} entries, expected ${n}`);
  }
  const S = sinkLen + n + probeLen;
  const expected = {
    windowProbs: steps.source === 'window' ? kvHeads * G * W * S : null,
    allProbsColumnSums: steps.source === 'accumulated' ? kvHeads * G * S : null,
    valueNorms: steps.valueWeight ? kvHeads * G * n : null,
  };
  inputs.layers.forEach((layer, l) => {
    for (const [name, size] of Object.entries(expected)) {
      const array = layer[name as keyof typeof expected];
      if (size === null) continue;
      if (!array) throw new Error(`eviction: layer ${l} lacks ${name}, which this policy needs`);
      if (array.length !== size) {
        throw new Error(`eviction: layer ${l} ${name} has ${array.length} values, expected ${size}`);
      }
    }
  });
}
