/**
 * Question-agnostic KV eviction at segment prefill (DESIGN section 3): one module per step, composed by
 * configuration in `evictSegment`; the steps are exported for tests, ablations and the benchmark.
 */
export { evictSegment, type EvictionConfig } from './evict';
export { scorerSteps } from './policy';
export { scoreLayer } from './score';
export { poolWindow } from './pool';
export { aggregateWindow } from './aggregate';
export { clampToHeadMean } from './clamp';
export { weightByValueNorm } from './value-weight';
export { accumulatedScores } from './accumulated';
export { allocate, HEAD_FLOOR_FRACTION } from './allocate';
export { layerBudgets, PYRAMID_SPREAD } from './budget';
export { selectByQuota } from './select';
export { keptFromMasks } from './kept';
export { protectedTokens } from './protect';
export { checkInputs } from './check-inputs';
export type * from './types';
