/**
 * How many (head, token) entries each layer keeps: B_l = round(keepRatio · n · kvHeads), never fewer than the
 * protected tokens of every head and never more than everything.
 *
 * `pyramid` (PyramidKV, Cai et al. 2024, arXiv 2406.02069): lower layers attend broadly and upper layers
 * focus on few tokens, so budgets fall linearly from (1 + spread)·B at the bottom to (1 − spread)·B at the top,
 * spread 0.5. The profile is symmetric around B, so the total stays L·B. When a layer would leave the bounds
 * (many protected tokens, or a high keepRatio), the slope is flattened rather than the ends clipped: clipping
 * would change the total, a flatter line keeps it and stays monotone. `pyramid-up` is the same profile upside
 * down (upper layers keep more), the control that tells whether the direction matters. Every other allocator
 * gets B per layer (`joint` redistributes the same total itself).
 */
import type { LayerBudget } from '../cache-config';

export const PYRAMID_SPREAD = 0.5;

/** Per-layer budgets (entries over all kv heads); they sum to layers · B. */
export function layerBudgets(
  tokens: number,
  kvHeads: number,
  layers: number,
  keepRatio: number,
  protectedCount: number,
  mode: LayerBudget,
): Int32Array {
  const lo = protectedCount * kvHeads;
  const hi = tokens * kvHeads;
  const mean = Math.min(hi, Math.max(lo, Math.round(keepRatio * tokens * kvHeads)));
  const budgets = new Int32Array(layers).fill(mean);
  if ((mode !== 'pyramid' && mode !== 'pyramid-up') || layers < 2 || mean === 0) return budgets;

  const spread = Math.min(PYRAMID_SPREAD, (hi - mean) / mean, (mean - lo) / mean);
  const real = new Float64Array(layers);
  let remainder = layers * mean;
  for (let l = 0; l < layers; l++) {
    const x = mean * (1 + spread * (1 - (2 * l) / (layers - 1)));
    real[l] = Math.min(hi, Math.max(lo, x)); // the clamp only absorbs rounding noise at the bounds
    budgets[l] = Math.floor(real[l]);
    remainder -= budgets[l];
  }
  // Largest remainders first (ties to the lower layer): the sum is exact and the profile stays non-increasing.
  const order = Array.from({ length: layers }, (_, l) => l);
  order.sort((a, b) => real[b] - budgets[b] - (real[a] - budgets[a]) || a - b);
  for (let i = 0; i < remainder && i < layers; i++) budgets[order[i]]++;
  return mode === 'pyramid-up' ? budgets.reverse() : budgets;
}
