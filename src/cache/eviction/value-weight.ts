/**
 * Step 4: weight each score by how much the token's value can move the attention output.
 *
 * CriticalKV (Feng et al. 2025, "Identify Critical KV Cache in LLM Inference from an Output Perturbation
 * Perspective", arXiv 2502.03805, used by DefensiveKV): evicting a token perturbs the output by its attention weight times its value
 * as seen after the output projection, so the score is attention × ‖v·W_O‖₁. A token the window attended to
 * but whose projected value is tiny (typically a sink-like or punctuation token) is cheap to drop.
 *
 * Per key-value head, the norm is the mean over its G query heads (each sees the shared value through its own
 * slice of W_O), then normalised to mean 1 over the segment so the weighting re-ranks tokens within a head
 * without changing the head's overall scale (which head-wise and layer-wise allocation compare).
 */
import type { SegmentShape } from './types';

/** scores [kvHeads, n], valueNorms [kvHeads · G, n] → new [kvHeads, n]. */
export function weightByValueNorm(scores: Float32Array, valueNorms: Float32Array, shape: SegmentShape): Float32Array {
  const n = shape.tokens;
  const G = shape.groupHeads;
  const out = new Float32Array(scores.length);
  const norm = new Float64Array(n);
  for (let h = 0; h < shape.kvHeads; h++) {
    norm.fill(0);
    for (let g = 0; g < G; g++) {
      const src = (h * G + g) * n;
      for (let j = 0; j < n; j++) norm[j] += valueNorms[src + j];
    }
    let total = 0;
    for (let j = 0; j < n; j++) total += norm[j];
    // All-zero norms carry no information: leave the head's scores as they are rather than zeroing them.
    const scale = total > 0 ? n / total : 0;
    const base = h * n;
    for (let j = 0; j < n; j++) out[base + j] = scale > 0 ? scores[base + j] * norm[j] * scale : scores[base + j];
  }
  return out;
}
