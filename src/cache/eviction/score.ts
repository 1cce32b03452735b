/**
 * Steps 1–4 for one layer, composed as `steps` says: the per-token, per-kv-head scores that allocation ranks.
 * Allocation is separate because `pyramid` and `joint` need every layer's scores at once.
 */
import { accumulatedScores } from './accumulated';
import { aggregateWindow } from './aggregate';
import { clampToHeadMean } from './clamp';
import { poolWindow } from './pool';
import type { LayerScoringInputs, ScorerSteps, SegmentShape } from './types';
import { weightByValueNorm } from './value-weight';

/** → scores [kvHeads, n]. `scratch` (≥ kvHeads·G·W·n floats) is reused for the pooled rows when given. */
export function scoreLayer(
  layer: LayerScoringInputs,
  shape: SegmentShape,
  steps: ScorerSteps,
  poolKernel: number,
  scratch?: Float32Array,
): Float32Array {
  let scores: Float32Array;
  if (steps.source === 'accumulated') {
    scores = accumulatedScores(required(layer.allProbsColumnSums, 'allProbsColumnSums'), shape);
  } else if (steps.source === 'window') {
    // Kernel 1 when pooling is ablated: candidates are still cut out and renormalised, only smoothing goes.
    const rows = poolWindow(required(layer.windowProbs, 'windowProbs'), shape, steps.pool ? poolKernel : 1, scratch);
    scores = aggregateWindow(rows, shape, steps.aggregation);
  } else {
    scores = new Float32Array(shape.kvHeads * shape.tokens);
  }
  if (steps.clamp) scores = clampToHeadMean(scores, shape);
  if (steps.valueWeight) scores = weightByValueNorm(scores, required(layer.valueNorms, 'valueNorms'), shape);
  return scores;
}

function required(array: Float32Array | undefined, name: string): Float32Array {
  if (!array) throw new Error(`eviction: this policy needs ${name} from the prefill graph`);
  return array;
}
