/**
 * The decoder's norms and rotary in one of two operator sets, so the graph builder (decoder-graph.ts) writes the
 * forward pass once:
 * - `onnx`: plain ONNX operators (layers.ts). The exact reference: what the golden and reference tests check.
 * - `contrib`: onnxruntime's fused operators, the way onnxruntime-genai builds LLMs. Residual Add + RMSNorm is one
 *   `SkipSimplifiedLayerNormalization` (com.microsoft; its 4th output, the sum, is the residual stream), the first
 *   norm `SimplifiedLayerNormalization` (onnxruntime registers it in the ONNX domain), rotary one `RotaryEmbedding`
 *   (com.microsoft, rotate-half: interleaved = 0). Each has float32 kernels on onnxruntime's CPU and WebGPU
 *   providers, so the variant GPU providers run is tested on the CPU.
 *
 * RotaryEmbedding reads cos/sin rows from caches indexed by position, and onnxruntime's CPU kernel does not bound-
 * check the index. Instead of caches over every position the model could reach (max_position_embeddings rows,
 * which generation and the repository layouts can pass: the plain graph has no such limit), the caches here are
 * computed per call from the positions themselves, one row per rotated token, with the plain graph's float32
 * arithmetic, and the kernel reads row s for token s (position_ids = [0]). No position can fall outside them, and
 * the angles are bit-for-bit the plain graph's.
 */
import type { GraphBuilder } from './graph-builder';
import { applyRotary, rmsNorm, rotaryAngles, rotaryAt, rotaryTables } from './layers';

export type OperatorSet = 'onnx' | 'contrib';
export const OPERATOR_SETS: readonly OperatorSet[] = ['onnx', 'contrib'];

export interface DecoderOps {
  /**
   * RMSNorm of residual + delta (of the residual alone when delta is absent: the first norm). Returns the norm's
   * output and the sum, which is the residual stream from here on.
   */
  addNorm(residual: string, delta: string | undefined, weight: string): { normed: string; sum: string };
  /**
   * The final residual add and norm, for the rows `index` only (the positions that want logits). `sum` is the full
   * residual stream [T, hidden], made only when `wantSum` (the hidden-states debug output).
   */
  gatherNorm(
    residual: string,
    delta: string,
    index: string,
    weight: string,
    wantSum: boolean,
  ): { normed: string; sum?: string };
  /** Rotary at the chunk's positions for a projection's output x [T, heads·d] → [T, heads, d]. */
  rotateChunk(x: string, heads: number): string;
  /** Rotary of a repository block's keys [KV, Sc, d] at per-slot positions [KV, Sc] (int64). */
  rotateAt(keys: string, positions: string): string;
}

export interface DecoderOpsShape {
  headDim: number;
  ropeTheta: number;
  rmsNormEps: number;
}

export function decoderOps(g: GraphBuilder, set: OperatorSet, positionIds: string, shape: DecoderOpsShape): DecoderOps {
  if (!OPERATOR_SETS.includes(set)) throw new RangeError(`operator set must be onnx or contrib, got ${String(set)}`);
  return set === 'contrib' ? contribOps(g, positionIds, shape) : onnxOps(g, positionIds, shape);
}

function onnxOps(g: GraphBuilder, positionIds: string, s: DecoderOpsShape): DecoderOps {
  const { headDim: d, ropeTheta: theta, rmsNormEps: eps } = s;
  let rope: { cos: string; sin: string } | undefined;
  return {
    addNorm: (residual, delta, weight) => {
      const sum = delta ? g.op('Add', [residual, delta]) : residual;
      return { normed: rmsNorm(g, sum, weight, eps), sum };
    },
    gatherNorm: (residual, delta, index, weight, wantSum) => {
      const sum = g.op('Add', [residual, delta]);
      const rows = g.op('Gather', [sum, index], { axis: 0 });
      return { normed: rmsNorm(g, rows, weight, eps), ...(wantSum ? { sum } : {}) };
    },
    rotateChunk: (x, heads) => {
      rope ??= rotaryTables(g, positionIds, d, theta);
      return applyRotary(g, g.op('Reshape', [x, g.ints([0, heads, d])]), rope, d);
    },
    rotateAt: (keys, positions) => applyRotary(g, keys, rotaryAt(g, positions, d, theta), d),
  };
}

function contribOps(g: GraphBuilder, positionIds: string, s: DecoderOpsShape): DecoderOps {
  const { headDim: d, ropeTheta: theta, rmsNormEps: eps } = s;
  const epsilon = { float: eps };
  const skipNorm = (input: string, skip: string, weight: string) => {
    // Outputs: normed, mean, inv_std_var, input + skip; the middle two are left out.
    const [normed, , , sum] = g.opN(
      'SkipSimplifiedLayerNormalization',
      [input, skip, weight],
      [true, false, false, true],
      { epsilon },
      'com.microsoft',
    );
    return { normed: normed!, sum: sum! };
  };
  const firstRow = g.ints([0]);
  /** Cos and sin caches [n, d/2] for n int64 positions [n]: row s belongs to the s-th rotated token. */
  const caches = (positions: string) => {
    const angles = rotaryAngles(g, positions, d, theta);
    return { cos: g.op('Cos', [angles]), sin: g.op('Sin', [angles]) };
  };
  let chunkCaches: { cos: string; sin: string } | undefined;
  /** x [1, n, heads·d] rotated by its caches; position_ids [0] makes the kernel read row s for token s. */
  const rotary = (x: string, c: { cos: string; sin: string }, heads: number) =>
    g.op('RotaryEmbedding', [x, firstRow, c.cos, c.sin], { interleaved: 0, num_heads: heads }, 'com.microsoft');
  return {
    addNorm: (residual, delta, weight) =>
      delta
        ? skipNorm(residual, delta, weight)
        : {
            normed: g.op('SimplifiedLayerNormalization', [residual, weight], { axis: -1, epsilon, stash_type: 1 }),
            sum: residual,
          },
    gatherNorm: (residual, delta, index, weight, wantSum) => {
      // Gathering both terms and adding the N rows is the same sum as adding all T rows and gathering N of them.
      const rows = (t: string) => g.op('Gather', [t, index], { axis: 0 });
      const { normed } = skipNorm(rows(residual), rows(delta), weight);
      return { normed, ...(wantSum ? { sum: g.op('Add', [residual, delta]) } : {}) };
    },
    rotateChunk: (x, heads) => {
      chunkCaches ??= caches(positionIds);
      const rotated = rotary(g.op('Unsqueeze', [x, g.ints([0])]), chunkCaches, heads);
      return g.op('Reshape', [rotated, g.ints([-1, heads, d])]);
    },
    rotateAt: (keys, positions) => {
      // The block as one sequence of KV·Sc single-head tokens, each with its own cache row.
      const flat = caches(g.op('Reshape', [positions, g.ints([-1])]));
      const rotated = rotary(g.op('Reshape', [keys, g.ints([1, -1, d])]), flat, 1);
      return g.op('Reshape', [rotated, g.op('Shape', [keys])]);
    },
  };
}
