/**
 * The shapes that flow through eviction (DESIGN section 3, "Eviction"). The inputs are what the prefill graph
 * hands over for one segment; the output is, per layer and key-value head, which of the segment's tokens stay.
 *
 * Key columns of the attention inputs run over S = sinkLen + tokens + probeLen keys: the shared sink prefix, the
 * segment, and the look-ahead probe. Only the segment's columns are candidates; the others took part in the
 * softmax and are otherwise ignored. Query head q belongs to key-value head ⌊q / groupHeads⌋ (GQA's repeat_kv).
 */
import type { Aggregation } from '../cache-config';

export interface SegmentShape {
  /** n: the segment's tokens (token 0 = first token of its header line). */
  tokens: number;
  kvHeads: number;
  /** G = heads / kvHeads: query heads sharing one key-value head. */
  groupHeads: number;
  /** W: observation-window query rows (segment tail + look-ahead probe). */
  window: number;
  /** Sink-prefix keys before the segment's keys in every attention row. */
  sinkLen: number;
  /** Probe keys after the segment's keys in every attention row. */
  probeLen: number;
}

/** One layer's scoring inputs; which arrays must be present depends on the policy. */
export interface LayerScoringInputs {
  /** [kvHeads, G, W, S] softmax probabilities of the window queries (snapkv, defensive). */
  windowProbs?: Float32Array;
  /** [kvHeads, G, S] attention each key received summed over all the segment's query rows (h2o). */
  allProbsColumnSums?: Float32Array;
  /** [kvHeads · G, n] L1 norm of each token's value through its query head's slice of W_O (defensive). */
  valueNorms?: Float32Array;
}

export interface SegmentScoringInputs {
  shape: SegmentShape;
  /** [n] 1 = must be kept (header line, declaration names and signatures, from the syntax layer). */
  protectedMask: Uint8Array;
  /** Leading tokens forming the segment's header line, kept even if the mask forgot them (default 0). */
  headerTokens?: number;
  /** One entry per model layer, bottom to top. */
  layers: LayerScoringInputs[];
}

/** The scorer's steps, each one module; a policy is a choice of these, and each can be ablated alone. */
export interface ScorerSteps {
  /** Where raw importance comes from: window attention (SnapKV, DefensiveKV), accumulated attention (H2O), none. */
  source: 'window' | 'accumulated' | 'none';
  /** Average-pool window attention along keys (kernel from the config); false = kernel 1. */
  pool: boolean;
  aggregation: Aggregation;
  /** Raise scores to their head's mean (DefensiveKV's prior-risk correction). */
  clamp: boolean;
  /** Multiply by the normalised |v·W_O| (CriticalKV). */
  valueWeight: boolean;
}

/** Kept tokens of one layer in a flattened layout: head h's run is indices[offsets[h] .. offsets[h + 1]). */
export interface KeptLayer {
  /** Kept token indices, head after head, each head's run ascending. */
  indices: Int32Array;
  /** kvHeads + 1 offsets into `indices`. */
  offsets: Int32Array;
  /** heads[h]: head h's run as a view into `indices` (no copy). */
  heads: Int32Array[];
}

export interface KeptTokens {
  tokens: number;
  kvHeads: number;
  layers: KeptLayer[];
  /** Kept (head, token) entries per layer. */
  layerCounts: Int32Array;
  /** Sum of layerCounts: the whole segment's budget. */
  total: number;
}
