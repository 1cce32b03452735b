/**
 * The graph side of state that stays on the device (issue 11). The plain decoder hands back only a chunk's own
 * keys and values and the host appends them; the device-state variant hands back the whole present (past and
 * chunk joined in the graph) so the runtime can feed it straight back as the next step's past without reading
 * it, and the chosen token so a greedy step need not bring the logits across either.
 *
 * Where the chunk joins the past is the layout's one fact this module owns: `PRESENT_LAYOUT`. With the
 * token-major past [P, kvHeads, headDim] that is axis 0; a head-major past [kvHeads, P, headDim] would join on
 * axis 1 (and a capacity-padded past would write rows in place instead of concatenating).
 */
import { type GraphBuilder } from './graph-builder';
import { type Dim } from './onnx-proto';

export const PRESENT_LAYOUT = {
  /** The axis of the past along which tokens run. */
  tokenAxis: 0,
  /** Dims of a full present of `tokens` tokens for `kvHeads` heads of `headDim`, in the past's layout. */
  dims: (tokens: Dim, kvHeads: number, headDim: number): Dim[] => [tokens, kvHeads, headDim],
  /**
   * A present's tokens from `from` on, as token-major host rows [tokens, kvHeads, headDim] (what the host cache
   * and the plain graph's chunk outputs hold). Token-major: a copy of the tail.
   */
  rowsFrom: (present: Float32Array, from: number, kvHeads: number, headDim: number): Float32Array =>
    present.slice(from * kvHeads * headDim),
} as const;

/** The past with the chunk's rows after it: what the next step attends to. */
export function appendToPast(g: GraphBuilder, past: string, chunk: string): string {
  return g.op('Concat', [past, chunk], { axis: PRESENT_LAYOUT.tokenAxis });
}

/**
 * The greedy choice per logits row: int64 [N]. ArgMax keeps the first of equal maxima, as the host sampler's
 * argmax does, so greedy continuations match token for token.
 */
export function greedyToken(g: GraphBuilder, logits: string): string {
  return g.op('ArgMax', [logits], { axis: 1, keepdims: 0, select_last_index: 0 });
}
