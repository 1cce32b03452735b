/**
 * The decoder's building blocks as ONNX subgraphs. Activations are 2-D [T, features] (batch of one: a copilot
 * serves one user), which lets every projection be a single Gemm with transB — the checkpoint's [out, in]
 * weights are used as stored, with no transpose copy.
 */
import { type GraphBuilder } from './graph-builder';
import { TensorDataType } from './onnx-proto';

/** y = x / sqrt(mean(x²) + eps) · w. Written as ORT's RMSNorm fusion pattern expects (Pow, ReduceMean, Add, Sqrt, Div). */
export function rmsNorm(g: GraphBuilder, x: string, weight: string, eps: number): string {
  const variance = g.op('ReduceMean', [g.op('Pow', [x, g.scalar(2)]), g.ints([-1])], { keepdims: 1 });
  const normed = g.op('Div', [x, g.op('Sqrt', [g.op('Add', [variance, g.scalar(eps)])])]);
  return g.op('Mul', [normed, weight]);
}

/** y = x · Wᵀ + b for x [T, in], W [out, in] (Hugging Face's Linear layout). */
export function linear(g: GraphBuilder, x: string, weight: string, bias?: string): string {
  return g.op('Gemm', bias ? [x, weight, bias] : [x, weight], { transB: 1 });
}

/** down(silu(gate) · up), with gate and up computed by one fused projection and split. */
export function swiGlu(
  g: GraphBuilder,
  x: string,
  gateUp: { weight: { apply(x: string, bias?: string): string }; bias?: string },
  down: { weight: { apply(x: string, bias?: string): string }; bias?: string },
  intermediate: number,
): string {
  const [gate, up] = g.opN('Split', [gateUp.weight.apply(x, gateUp.bias), g.ints([intermediate, intermediate])], 2, {
    axis: 1,
  });
  const silu = g.op('Mul', [gate!, g.op('Sigmoid', [gate!])]);
  return down.weight.apply(g.op('Mul', [silu, up!]), down.bias);
}

/**
 * cos and sin tables [..., headDim] for int64 positions of any shape [...], as Hugging Face computes them:
 * inv_freq[i] = theta^(-2i/d), freqs = position · inv_freq in float32, duplicated over both halves.
 * Positions are graph inputs because the cache places segments (and moves their keys) where it chooses.
 */
export function rotaryAt(
  g: GraphBuilder,
  positions: string,
  headDim: number,
  theta: number,
): { cos: string; sin: string } {
  const freqs = rotaryAngles(g, positions, headDim, theta); // [..., d/2]
  const emb = g.op('Concat', [freqs, freqs], { axis: -1 }); // [..., d]
  return { cos: g.op('Cos', [emb]), sin: g.op('Sin', [emb]) };
}

/** The angles position · inv_freq [..., headDim/2] in float32, one per rotated pair. */
export function rotaryAngles(g: GraphBuilder, positions: string, headDim: number, theta: number): string {
  const half = headDim / 2;
  const invFreq = new Float32Array(half);
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.pow(theta, (2 * i) / headDim);
  const pos = g.op('Unsqueeze', [g.op('Cast', [positions], { to: TensorDataType.FLOAT }), g.ints([-1])]);
  return g.op('Mul', [pos, g.constant(invFreq, TensorDataType.FLOAT, [half])]);
}

/** Tables [T, 1, headDim] for a chunk's positions [T], broadcasting over heads. */
export function rotaryTables(
  g: GraphBuilder,
  positionIds: string,
  headDim: number,
  theta: number,
): { cos: string; sin: string } {
  const { cos, sin } = rotaryAt(g, positionIds, headDim, theta);
  return { cos: g.op('Unsqueeze', [cos, g.ints([1])]), sin: g.op('Unsqueeze', [sin, g.ints([1])]) };
}

/** x·cos + rotate_half(x)·sin for x [A, B, d], rotate_half(x) = [-x₂, x₁] (the rotate-half convention). */
export function applyRotary(g: GraphBuilder, x: string, rope: { cos: string; sin: string }, headDim: number): string {
  const [x1, x2] = g.opN('Split', [x, g.ints([headDim / 2, headDim / 2])], 2, { axis: 2 });
  const rotated = g.op('Concat', [g.op('Neg', [x2!]), x1!], { axis: 2 });
  return g.op('Add', [g.op('Mul', [x, rope.cos]), g.op('Mul', [rotated, rope.sin])]);
}
