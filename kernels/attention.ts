/**
 * Grouped-query attention of the chunk's queries over the past keys/values plus the chunk's own, and optionally
 * over a compressed repository block.
 *
 * The past is not state of the graph: it comes in as inputs and the chunk's new keys/values go out as outputs,
 * so the cache lives in RepoKV's code (src/cache) and can be stored, evicted, quantized and moved there.
 * `CompressedBlock` is the seam for the repository cache: a subgraph dequantizes one layer's 2-bit block
 * transiently (kernels/dequantize.ts) and hands it here; no full-precision copy of the whole cache exists.
 */
import { type GraphBuilder } from './graph-builder';

export interface AttentionShape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
}

/** Full-precision past keys and values of one layer, token-major [P, kvHeads, headDim]. */
export interface PastKv {
  keys: string;
  values: string;
}

/**
 * The repository block of one layer, dequantized, head-major [KV, Sc, d] with every head padded to the same Sc,
 * its additive bias [KV, Sc] (-inf on padding; APE's log-scale on real slots) and APE's inverse temperature
 * (a [1] tensor) applied to its scores.
 */
export interface CompressedBlock {
  keys: string;
  values: string;
  bias: string;
  inverseTemperature: string;
}

/**
 * How attention reads a repository block, whatever its storage: the unfused layout (dequantized keys and values,
 * below) and the fused MatMulNBits layout (kernels/fused-attention.ts) differ only in these two products.
 */
export interface BlockAttention {
  /** Raw scores of the grouped queries [KV, G, T, d] (already scaled by 1/√d) over the block: [KV, G, T, Sc]. */
  scores(queries: string): string;
  /** The block's share of the context: probabilities [KV, G, T, Sc] → [KV, G, T, d]. */
  context(probs: string): string;
  /** [KV, Sc] additive bias and the [1] inverse temperature on the block's scores. */
  bias: string;
  inverseTemperature: string;
}

export function dequantizedBlockAttention(g: GraphBuilder, block: CompressedBlock): BlockAttention {
  return {
    scores: (queries) =>
      g.op('MatMul', [queries, g.op('Unsqueeze', [g.op('Transpose', [block.keys], { perm: [0, 2, 1] }), g.ints([1])])]),
    context: (probs) => g.op('MatMul', [probs, g.op('Unsqueeze', [block.values, g.ints([1])])]), // values [KV,1,Sc,d]
    bias: block.bias,
    inverseTemperature: block.inverseTemperature,
  };
}

/**
 * q [T, H, d] (rotary applied), k/v [T, KV, d] of the chunk, past [P, KV, d], bias [T, P+T] additive
 * (0 or -inf: causal within the chunk, and whatever the caller's layout allows over the past).
 * Returns the attention output [T, H·d] and the probabilities over past + chunk [KV, G, T, P+T].
 */
export function groupedQueryAttention(
  g: GraphBuilder,
  shape: AttentionShape,
  q: string,
  k: string,
  v: string,
  past: PastKv,
  bias: string,
  block?: BlockAttention,
): { output: string; probs: string } {
  const { numHeads: H, numKvHeads: KV, headDim: d } = shape;
  const G = H / KV;
  // Query head h reads kv head ⌊h / G⌋ (Hugging Face's repeat_kv), so view queries as [KV, G, T, d] and let
  // MatMul broadcast each kv head over its G query heads instead of copying keys G times.
  const scaled = g.op('Mul', [q, g.scalar(1 / Math.sqrt(d))]);
  const queries = g.op('Transpose', [g.op('Reshape', [scaled, g.ints([0, KV, G, d])])], { perm: [1, 2, 0, 3] });
  const allKeys = g.op('Concat', [past.keys, k], { axis: 0 }); // [S, KV, d]
  const allValues = g.op('Concat', [past.values, v], { axis: 0 });
  const keysT = g.op('Unsqueeze', [g.op('Transpose', [allKeys], { perm: [1, 2, 0] }), g.ints([1])]); // [KV, 1, d, S]
  const vals = g.op('Unsqueeze', [g.op('Transpose', [allValues], { perm: [1, 0, 2] }), g.ints([1])]); // [KV, 1, S, d]
  const scores = g.op('Add', [g.op('MatMul', [queries, keysT]), bias]); // [KV, G, T, S]
  if (!block) {
    const probs = g.op('Softmax', [scores], { axis: -1 });
    return { output: mergeHeads(g, g.op('MatMul', [probs, vals])), probs };
  }
  // Scores over the repository block and over the rest are computed apart and only the score rows are joined:
  // for a decode step that is far less copying than concatenating the block's keys and values with the past.
  const blockScores = g.op('Add', [
    g.op('Mul', [block.scores(queries), block.inverseTemperature]),
    g.op('Unsqueeze', [block.bias, g.ints([1, 2])]),
  ]); // [KV, G, T, Sc]
  const probs = g.op('Softmax', [g.op('Concat', [blockScores, scores], { axis: 3 })], { axis: -1 });
  const lastDim = (x: string) => g.op('Slice', [g.op('Shape', [x]), g.ints([3]), g.ints([4])]);
  const sizes = g.op('Concat', [lastDim(blockScores), lastDim(scores)], { axis: 0 });
  const [blockProbs, restProbs] = g.opN('Split', [probs, sizes], 2, { axis: 3 });
  const context = g.op('Add', [block.context(blockProbs!), g.op('MatMul', [restProbs!, vals])]);
  return { output: mergeHeads(g, context), probs: restProbs! };
}

/** [KV, G, T, d] → [T, H·d] with head h = kv·G + g. */
function mergeHeads(g: GraphBuilder, context: string): string {
  return g.op('Reshape', [g.op('Transpose', [context], { perm: [2, 0, 1, 3] }), g.ints([0, -1])]);
}
