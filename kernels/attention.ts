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

/**
 * Full-precision past keys and values of one layer, head-major [KV, P, d] as src/engine/kv-cache.ts keeps them
 * (P may include padding slots, which the attention bias masks).
 */
export interface PastKv {
  keys: string;
  values: string;
}

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
 * q [T, H, d] (rotary applied), k/v [T, KV, d] of the chunk, past [KV, P, d], bias [T, P+T] additive
 * (0 or -inf: causal within the chunk, and whatever the caller's layout allows over the past).
 * Returns the attention output [T, H·d] and, built only when asked for, the probabilities over past + chunk
 * [KV, G, T, P+T].
 *
 * The past, the chunk and the repository block are each multiplied where they lie and only the score rows are
 * joined for the one softmax: concatenating the past with the chunk (or transposing it) would copy the whole past
 * on every decode step, which costs about as much as the 4-bit weights of a 0.5B model read per token.
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
): { output: string; probs: () => string } {
  const { numHeads: H, numKvHeads: KV, headDim: d } = shape;
  const G = H / KV;
  // Query head h reads kv head ⌊h / G⌋ (Hugging Face's repeat_kv), so view queries as [KV, G, T, d] and let
  // MatMul broadcast each kv head over its G query heads instead of copying keys G times.
  const scaled = g.op('Mul', [q, g.scalar(1 / Math.sqrt(d))]);
  const queries = g.op('Transpose', [g.op('Reshape', [scaled, g.ints([0, KV, G, d])])], { perm: [1, 2, 0, 3] });
  // A Transpose of the last two axes straight into MatMul is what onnxruntime's CPU optimizer folds into one
  // FusedMatMul (transB): the past keys are read in place. GPU providers run it as a cheap device transpose.
  const pastKeysT = g.op('Transpose', [g.op('Unsqueeze', [past.keys, g.ints([1])])], { perm: [0, 1, 3, 2] });
  const pastScores = g.op('MatMul', [queries, pastKeysT]); // [KV, G, T, P]
  const chunkKeysT = g.op('Unsqueeze', [g.op('Transpose', [k], { perm: [1, 2, 0] }), g.ints([1])]); // [KV, 1, d, T]
  const chunkValues = g.op('Unsqueeze', [g.op('Transpose', [v], { perm: [1, 0, 2] }), g.ints([1])]); // [KV,1,T,d]
  const chunkScores = g.op('MatMul', [queries, chunkKeysT]); // [KV, G, T, T]
  const scores = g.op('Add', [g.op('Concat', [pastScores, chunkScores], { axis: 3 }), bias]); // [KV, G, T, S]
  const parts = [pastScores, chunkScores];
  let joined = scores;
  if (block) {
    const blockScores = g.op('Add', [
      g.op('Mul', [block.scores(queries), block.inverseTemperature]),
      g.op('Unsqueeze', [block.bias, g.ints([1, 2])]),
    ]); // [KV, G, T, Sc]
    parts.unshift(blockScores);
    joined = g.op('Concat', [blockScores, scores], { axis: 3 });
  }
  const probs = g.op('Softmax', [joined], { axis: -1 });
  const lastDim = (x: string) => g.op('Slice', [g.op('Shape', [x]), g.ints([3]), g.ints([4])]);
  const sizes = g.op('Concat', parts.map(lastDim), { axis: 0 });
  const split = g.opN('Split', [probs, sizes], parts.length, { axis: 3 });
  const [pastProbs, chunkProbs] = split.slice(-2) as [string, string];
  let context = g.op('Add', [
    g.op('MatMul', [pastProbs, g.op('Unsqueeze', [past.values, g.ints([1])])]), // values [KV, 1, P, d]
    g.op('MatMul', [chunkProbs, chunkValues]),
  ]);
  if (block) context = g.op('Add', [block.context(split[0]!), context]);
  let restProbs: string | undefined;
  const probsOverPastAndChunk = () => {
    restProbs ??= block ? g.op('Concat', [pastProbs, chunkProbs], { axis: 3 }) : probs;
    return restProbs;
  };
  return { output: mergeHeads(g, context), probs: probsOverPastAndChunk };
}

/** [KV, G, T, d] → [T, H·d] with head h = kv·G + g. */
function mergeHeads(g: GraphBuilder, context: string): string {
  return g.op('Reshape', [g.op('Transpose', [context], { perm: [2, 0, 1, 3] }), g.ints([0, -1])]);
}
