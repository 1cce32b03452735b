/**
 * Eviction of one segment at prefill time (DESIGN section 3): score every layer with the policy's steps, then
 * allocate the budget. Question-agnostic: only the segment's own window and the probe are looked at.
 *
 * `overrides` replaces single steps of the configured policy, which is how the benchmark ablates them, e.g.
 * `{ pool: false }`, `{ clamp: false }`, `{ valueWeight: false }` or `{ aggregation: 'mean' }` on `defensive`.
 */
import type { CacheConfig } from '../cache-config';
import { allocate } from './allocate';
import { checkInputs } from './check-inputs';
import { keptFromMasks } from './kept';
import { scorerSteps } from './policy';
import { protectedTokens } from './protect';
import { scoreLayer } from './score';
import type { KeptTokens, ScorerSteps, SegmentScoringInputs } from './types';

export type EvictionConfig = Pick<
  CacheConfig,
  'eviction' | 'aggregation' | 'keepRatio' | 'poolKernel' | 'layerBudget'
> &
  Partial<Pick<CacheConfig, 'headMeanClamp'>>;

export function evictSegment(
  inputs: SegmentScoringInputs,
  config: EvictionConfig,
  overrides: Partial<ScorerSteps> = {},
): KeptTokens {
  const steps: ScorerSteps = { ...scorerSteps(config), ...overrides };
  checkInputs(inputs, steps);
  const { shape } = inputs;
  const { tokens: n, kvHeads } = shape;
  if (steps.source === 'none' || config.keepRatio >= 1) {
    // Nothing to rank: every token of every head stays.
    return keptFromMasks(
      inputs.layers.map(() => new Uint8Array(kvHeads * n).fill(1)),
      n,
      kvHeads,
    );
  }
  if (!(config.keepRatio >= 0)) throw new Error(`eviction: keepRatio must be in [0, 1], got ${config.keepRatio}`);
  // One pooled-rows buffer for all layers: the largest intermediate (kvHeads·G·W·n floats), allocated once.
  const scratch =
    steps.source === 'window' ? new Float32Array(kvHeads * shape.groupHeads * shape.window * n) : undefined;
  const scores = inputs.layers.map((layer) => scoreLayer(layer, shape, steps, config.poolKernel, scratch));
  return allocate(scores, protectedTokens(inputs), shape, config.keepRatio, config.layerBudget);
}
