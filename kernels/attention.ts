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
 * Run-time shapes every layer's attention needs, built once per graph: the past's slot count P and the chunk's
 * length T are only known when it runs.
 */
export interface AttentionDims {
  /** [KV, G, T, P] and [KV, G, T, T]: score rows of a kv head's query rows, regrouped by query head. */
  groupedByPast: string;
  groupedByChunk: string;
  /** [KV, G·T, P] and [KV, G·T, T]: the G·T probability rows of each kv head as one matrix. */
  rowsOverPast: string;
  rowsOverChunk: string;
  /** [P, T]: how the probabilities over past + chunk split. */
  pastAndChunk: string;
}

/** Shapes are spelled out in full (no -1) because P may be 0, and Reshape needs `allowzero` to keep a 0. */
export function attentionDims(
  g: GraphBuilder,
  shape: AttentionShape,
  pastKeys: string,
  inputIds: string,
): AttentionDims {
  const { numHeads: H, numKvHeads: KV } = shape;
  const G = H / KV;
  const slots = g.op('Slice', [g.op('Shape', [pastKeys]), g.ints([1]), g.ints([2])]);
  const chunk = g.op('Shape', [inputIds]);
  const rows = g.op('Mul', [chunk, g.ints([G])]);
  const concat = (parts: string[]) => g.op('Concat', parts, { axis: 0 });
  return {
    groupedByPast: concat([g.ints([KV, G]), chunk, slots]),
    groupedByChunk: concat([g.ints([KV, G]), chunk, chunk]),
    rowsOverPast: concat([g.ints([KV]), rows, slots]),
    rowsOverChunk: concat([g.ints([KV]), rows, chunk]),
    pastAndChunk: concat([slots, chunk]),
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
 * on every decode step, which costs about as much as the 4-bit weights of a 0.5B model read per token. Each kv
 * head's G query heads are multiplied as one [G·T, d] matrix: a batch of G single-row products would have the
 * CPU's GEMM repack the same keys G times.
 */
export function groupedQueryAttention(
  g: GraphBuilder,
  shape: AttentionShape,
  dims: AttentionDims,
  q: string,
  k: string,
  v: string,
  past: PastKv,
  bias: string,
  block?: BlockAttention,
): { output: string; probs: () => string } {
  const { numHeads: H, numKvHeads: KV, headDim: d } = shape;
  const G = H / KV;
  // Query head h reads kv head ⌊h / G⌋ (Hugging Face's repeat_kv): queries viewed as [KV, G, T, d].
  const scaled = g.op('Mul', [q, g.scalar(1 / Math.sqrt(d))]);
  const queries = g.op('Transpose', [g.op('Reshape', [scaled, g.ints([0, KV, G, d])])], { perm: [1, 2, 0, 3] });
  const queryRows = g.op('Reshape', [queries, g.ints([KV, -1, d])]); // [KV, G·T, d]
  // A Transpose of the last two axes straight into MatMul is what onnxruntime's CPU optimizer folds into one
  // FusedMatMul (transB): the past keys are read in place. GPU providers run it as a cheap device transpose.
  const pastKeysT = g.op('Transpose', [past.keys], { perm: [0, 2, 1] }); // [KV, d, P]
  const pastScores = g.op('Reshape', [g.op('MatMul', [queryRows, pastKeysT]), dims.groupedByPast], { allowzero: 1 }); // [KV,G,T,P]
  const chunkKeysT = g.op('Transpose', [k], { perm: [1, 2, 0] }); // [KV, d, T]
  const chunkScores = g.op('Reshape', [g.op('MatMul', [queryRows, chunkKeysT]), dims.groupedByChunk], { allowzero: 1 });
  const scores = g.op('Add', [g.op('Concat', [pastScores, chunkScores], { axis: 3 }), bias]); // [KV, G, T, S]
  let sizes = dims.pastAndChunk;
  let joined = scores;
  if (block) {
    const blockScores = g.op('Add', [
      g.op('Mul', [block.scores(queries), block.inverseTemperature]),
      g.op('Unsqueeze', [block.bias, g.ints([1, 2])]),
    ]); // [KV, G, T, Sc]
    const blockSlots = g.op('Slice', [g.op('Shape', [blockScores]), g.ints([3]), g.ints([4])]);
    sizes = g.op('Concat', [blockSlots, sizes], { axis: 0 });
    joined = g.op('Concat', [blockScores, scores], { axis: 3 });
  }
  const probs = g.op('Softmax', [joined], { axis: -1 });
  const split = g.opN('Split', [probs, sizes], block ? 3 : 2, { axis: 3 });
  const [pastProbs, chunkProbs] = split.slice(-2) as [string, string];
  const chunkValues = g.op('Transpose', [v], { perm: [1, 0, 2] }); // [KV, T, d]
  const rowContext = g.op('Add', [
    g.op('MatMul', [g.op('Reshape', [pastProbs, dims.rowsOverPast], { allowzero: 1 }), past.values]),
    g.op('MatMul', [g.op('Reshape', [chunkProbs, dims.rowsOverChunk], { allowzero: 1 }), chunkValues]),
  ]); // [KV, G·T, d]
  let context = g.op('Reshape', [rowContext, g.ints([KV, G, -1, d])]);
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
