/**
 * Which operator set a checkpoint's graphs are built from (kernels/decoder-ops.ts). The exact float32 graph on
 * the CPU keeps plain ONNX operators: it is the golden reference every numerical test checks. Quantized weights
 * already leave that reference (MatMulNBits), and GPU providers pay per node launched, so both get onnxruntime's
 * fused contrib operators, which equal the plain ones within 1e-4 (test/kernels/contrib-operators.test.ts).
 */
import type { OperatorSet } from '../../kernels/decoder-ops';
import type { WeightFormat } from '../../kernels/quantized-linear';
import type { GraphVariant } from './graph-cache';
import type { ExecutionProvider } from './providers';

export type OperatorPreference = OperatorSet | 'auto';
export const OPERATOR_PREFERENCES: readonly OperatorPreference[] = ['auto', 'onnx', 'contrib'];

export function parseOperators(value: string): OperatorPreference {
  if ((OPERATOR_PREFERENCES as readonly string[]).includes(value)) return value as OperatorPreference;
  throw new RangeError(`expected one of ${OPERATOR_PREFERENCES.join(', ')}, got '${value}'`);
}

export function chooseOperators(weights: WeightFormat | undefined, provider: ExecutionProvider): OperatorSet {
  const quantized = weights !== undefined && weights.bits !== 32;
  return quantized || provider !== 'cpu' ? 'contrib' : 'onnx';
}

/**
 * The variant for an operator set: plain operators carry no field, so the exact graph keeps the cache key it
 * always had. `auto` is left to the session, which knows the provider (operatorsFor).
 */
export function withOperators(variant: GraphVariant, preference: OperatorPreference): GraphVariant {
  const { operators: _dropped, ...rest } = variant;
  return preference === 'contrib' ? { ...rest, operators: preference } : rest;
}

/** The variant `auto` resolves to on `provider`. */
export function operatorsFor(variant: GraphVariant, provider: ExecutionProvider): GraphVariant {
  return withOperators(variant, chooseOperators(variant.weights, provider));
}
