/**
 * Grouped-query attention of the chunk's queries over the past keys/values plus the chunk's own.
 *
 * The past is not state of the graph: it comes in as inputs and the chunk's new keys/values go out as outputs,
 * so the cache lives in RepoKV's code (src/cache) and can be stored, evicted, quantized and moved there.
 * `PastKv` is the seam: the plain engine feeds full-precision past tensors; the compressed cache supplies
 * a subgraph that dequantizes one layer's 2-bit block transiently and returns the same [P, kvHeads, d] shape.
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
 * q [T, H, d] (rotary applied), k/v [T, KV, d] of the chunk, past [P, KV, d], bias [T, P+T] additive
 * (0 or -inf: causal within the chunk, and whatever the caller's layout allows over the past).
 * Returns the attention output [T, H·d] and, for eviction scoring, the probabilities [KV, G, T, P+T].
 */
export function groupedQueryAttention(
  g: GraphBuilder,
  shape: AttentionShape,
  q: string,
  k: string,
  v: string,
  past: PastKv,
  bias: string,
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
  const probs = g.op('Softmax', [scores], { axis: -1 });
  const context = g.op('MatMul', [probs, vals]); // [KV, G, T, d]
  const output = g.op('Reshape', [g.op('Transpose', [context], { perm: [2, 0, 1, 3] }), g.ints([0, -1])]);
  return { output, probs };
}
