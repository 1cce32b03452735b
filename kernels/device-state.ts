/**
 * The graph side of state that stays on the device (issue 11). The plain decoder hands back only a chunk's own
 * keys and values and the host appends them; the device-state variant hands back the whole present (past and
 * chunk joined in the graph) so the runtime can feed it straight back as the next step's past without reading
 * it, and the chosen token so a greedy step need not bring the logits across either.
 *
 * Where the chunk joins the past is the layout's one fact this module owns: `PRESENT_LAYOUT`. The past is
 * head-major [kvHeads, P, headDim] (src/engine/kv-cache.ts), so the chunk's token-major rows are turned head-major
 * and joined on axis 1. A device past is exact (no capacity padding): each step's present is the next past.
 */
import { type GraphBuilder } from './graph-builder';
import { type Dim } from './onnx-proto';

export const PRESENT_LAYOUT = {
  /** The axis of the past along which tokens run. */
  tokenAxis: 1,
  /** Dims of a full present of `tokens` tokens for `kvHeads` heads of `headDim`, in the past's layout. */
  dims: (tokens: Dim, kvHeads: number, headDim: number): Dim[] => [kvHeads, tokens, headDim],
  /**
   * A present's tokens from `from` on, as token-major host rows [tokens, kvHeads, headDim] (what the host cache
   * appends and the plain graph's chunk outputs hold): a gather of each head's tail.
   */
  rowsFrom: (present: Float32Array, from: number, kvHeads: number, headDim: number): Float32Array => {
    const total = present.length / (kvHeads * headDim);
    const tokens = total - from;
    const rows = new Float32Array(tokens * kvHeads * headDim);
    for (let h = 0; h < kvHeads; h++)
      for (let t = 0; t < tokens; t++) {
        const at = (h * total + from + t) * headDim;
        rows.set(present.subarray(at, at + headDim), (t * kvHeads + h) * headDim);
      }
    return rows;
  },
} as const;

/** The past [KV, P, d] with the chunk's token-major rows [T, KV, d] after it: what the next step attends to. */
export function appendToPast(g: GraphBuilder, past: string, chunk: string): string {
  const chunkHeadMajor = g.op('Transpose', [chunk], { perm: [1, 0, 2] });
  return g.op('Concat', [past, chunkHeadMajor], { axis: PRESENT_LAYOUT.tokenAxis });
}

/**
 * The greedy choice per logits row: int64 [N]. ArgMax keeps the first of equal maxima, as the host sampler's
 * argmax does, so greedy continuations match token for token.
 */
export function greedyToken(g: GraphBuilder, logits: string): string {
  return g.op('ArgMax', [logits], { axis: 1, keepdims: 0, select_last_index: 0 });
}
