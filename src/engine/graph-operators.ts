/**
 * Which operator set a checkpoint's graphs are built from (kernels/decoder-ops.ts). The exact float32 graph on
 * the CPU keeps plain ONNX operators: it is the golden reference every numerical test checks. Quantized weights
 * already leave that reference (MatMulNBits), and GPU providers pay per node launched, so both get onnxruntime's
 * fused contrib operators, which equal the plain ones within 1e-4 (test/kernels/contrib-operators.test.ts).
 */
import type { OperatorSet } from '../../kernels/decoder-ops';
import type { WeightFormat } from '../../kernels/quantized-linear';

export type OperatorPreference = OperatorSet | 'auto';

/** The provider a graph is built for: a preference before a session exists, the chosen provider after. */
export type GraphProvider = 'auto' | 'cpu' | 'webgpu' | 'cuda';

export function chooseOperators(weights: WeightFormat | undefined, provider: GraphProvider): OperatorSet {
  const quantized = weights !== undefined && weights.bits !== 32;
  return quantized || provider === 'webgpu' || provider === 'cuda' ? 'contrib' : 'onnx';
}

/**
 * The variant fields for an operator set: plain operators add none, so the exact graph keeps the cache key it
 * always had and existing graph caches stay valid.
 */
export function operatorFields(set: OperatorSet): { operators?: OperatorSet } {
  return set === 'contrib' ? { operators: set } : {};
}
