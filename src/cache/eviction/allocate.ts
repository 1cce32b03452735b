/**
 * Step 5: turn scores into kept tokens under the budget. Protected tokens rank above every score, so they are
 * always kept and count toward the budget (budgets and floors are raised to fit them, see budget.ts).
 *
 * - `uniform`: each head of a layer keeps an even share of B_l (the remainder to the lower heads).
 * - `adaptive` (Ada-KV, Feng et al. 2024, arXiv 2407.11550): the top B_l entries over all heads of the layer,
 *   so heads that concentrate their attention give budget to heads that spread it; a floor of α = 0.2 of the
 *   even share per head (Ada-KV's safeguard) keeps a head from being starved by a noisy estimate.
 * - `pyramid` (PyramidKV, arXiv 2406.02069): per-layer budgets falling with depth, uniform within a layer;
 *   `pyramid-up` the same budgets rising with depth.
 * - `joint` (Layer-DefensiveKV, arXiv 2510.13334): one top-k over all layers and heads with the same total,
 *   the adaptive floor per head; layers whose scores are more spread keep more.
 */
import type { LayerBudget } from '../cache-config';
import { layerBudgets } from './budget';
import { keptFromMasks } from './kept';
import { selectByQuota } from './select';
import type { KeptTokens, SegmentShape } from './types';

export const HEAD_FLOOR_FRACTION = 0.2;

/** scores: per layer [kvHeads, n]; protectedMask [n]. */
export function allocate(
  scores: Float32Array[],
  protectedMask: Uint8Array,
  shape: Pick<SegmentShape, 'tokens' | 'kvHeads'>,
  keepRatio: number,
  mode: LayerBudget,
): KeptTokens {
  const { tokens: n, kvHeads: H } = shape;
  const L = scores.length;
  let protectedCount = 0;
  for (let j = 0; j < n; j++) protectedCount += protectedMask[j] ? 1 : 0;
  const budgets = layerBudgets(n, H, L, keepRatio, protectedCount, mode);
  // ⌊α · even share⌋ so that the floors of all heads always fit in the budget; never below the protected tokens.
  const headFloor = Math.max(protectedCount, Math.floor((HEAD_FLOOR_FRACTION * (budgets[0] ?? 0)) / H));

  if (mode === 'joint') {
    const keys = new Float32Array(L * H * n);
    for (let l = 0; l < L; l++) rankKeys(scores[l], protectedMask, n, keys, l * H * n);
    let total = 0;
    for (let l = 0; l < L; l++) total += budgets[l];
    const mask = selectByQuota(keys, n, new Int32Array(L * H).fill(headFloor), total);
    const masks = scores.map((_, l) => mask.subarray(l * H * n, (l + 1) * H * n));
    return keptFromMasks(masks, n, H);
  }
  const masks = scores.map((layerScores, l) => {
    const keys = new Float32Array(H * n);
    rankKeys(layerScores, protectedMask, n, keys, 0);
    const floors = mode === 'adaptive' ? new Int32Array(H).fill(headFloor) : evenSplit(budgets[l], H);
    return selectByQuota(keys, n, floors, budgets[l]);
  });
  return keptFromMasks(masks, n, H);
}

/** Ranking keys: protected tokens first (+∞), NaN last (−∞) so that a broken input can never corrupt the sort. */
function rankKeys(scores: Float32Array, protectedMask: Uint8Array, n: number, out: Float32Array, at: number): void {
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    out[at + i] = protectedMask[i % n] ? Infinity : Number.isNaN(s) ? -Infinity : s;
  }
}

/** total split over `parts` as evenly as possible, the remainder to the lower indices. */
function evenSplit(total: number, parts: number): Int32Array {
  const base = Math.floor(total / parts);
  const shares = new Int32Array(parts).fill(base);
  for (let i = 0; i < total - base * parts; i++) shares[i]++;
  return shares;
}
