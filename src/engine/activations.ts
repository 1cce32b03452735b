/**
 * Which activation precision a graph runs with. fp16 on GPU providers: half the bytes of every activation,
 * weight and KV read, and the GPUs' fp16 arithmetic; float32 on the CPU, whose onnxruntime computes most fp16
 * operators in float32 behind inserted Casts (measured in BENCHMARKS.md, "fp16 activations for GPU providers"),
 * so fp16 there would cost Casts and precision for nothing. The graph's inputs and outputs are float32 either way.
 */
import type { ActivationType, GraphVariant } from './graph-cache';
import type { ExecutionProvider } from './providers';

export type ActivationPreference = 'auto' | 'float32' | ActivationType;
export const ACTIVATION_PREFERENCES: readonly ActivationPreference[] = ['auto', 'float32', 'float16'];

export function parseActivations(value: string): ActivationPreference {
  if (value === 'auto' || value === 'float32' || value === 'float16' || value === 'float16-emulated') return value;
  throw new RangeError(`expected one of ${ACTIVATION_PREFERENCES.join(', ')}, got '${value}'`);
}

/** The variant `auto` resolves to on `provider`; float32 keeps the variant (and its cache key) unchanged. */
export function activationsFor(variant: GraphVariant, provider: ExecutionProvider): GraphVariant {
  return provider === 'cpu' || variant.activations ? variant : { ...variant, activations: 'float16' };
}

/** The variant for an explicit preference; `auto` is left to the session, which knows the provider. */
export function withActivations(variant: GraphVariant, preference: ActivationPreference): GraphVariant {
  if (preference === 'auto' || preference === 'float32') return variant;
  return { ...variant, activations: preference };
}
