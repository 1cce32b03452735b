/**
 * Which weights a checkpoint runs with: the user's `--weight-bits` / `repokv.model.weightBits`, or a default by
 * model size. 32 is the checkpoint exactly (the reference graph); 4 and 8 are MatMulNBits blocks
 * (kernels/weight-quant.ts). The defaults are measured (BENCHMARKS.md, "Block-quantized weights"): below
 * `QUANTIZE_FROM_PARAMETERS` exactness is cheap (the LM head and attention dominate, not weight reads), above it a
 * decode step is a read of every weight and 4 bits make it several times faster at a small KL cost.
 */
import type { WeightFormat } from '../../kernels/quantized-linear';
import { parseWeightBits, QUANTIZER_VERSION, type WeightBits } from '../../kernels/weight-quant';
import type { ModelConfig } from './model-config';

export const QUANTIZE_FROM_PARAMETERS = 100e6;
/** Layers at each end of the stack kept at 8 bits in the 4-bit format. */
export const PROTECTED_LAYERS = 2;
/** MatMulNBits accuracy_level for quantized weights: 4 = int8 activations on the CPU (measured faster, same KL). */
export const DEFAULT_ACCURACY_LEVEL: WeightFormat['accuracyLevel'] = 4;

/** Parameters of a Qwen2/Llama decoder (embedding counted once when tied). */
export function parameterCount(c: ModelConfig): number {
  const attn = c.hiddenSize * (c.numHeads + 2 * c.numKvHeads) * c.headDim + c.numHeads * c.headDim * c.hiddenSize;
  const mlp = 3 * c.hiddenSize * c.intermediateSize;
  const embed = c.vocabSize * c.hiddenSize * (c.tieWordEmbeddings ? 1 : 2);
  return c.numLayers * (attn + mlp) + embed;
}

export function defaultWeightBits(c: ModelConfig): WeightBits {
  return parameterCount(c) >= QUANTIZE_FROM_PARAMETERS ? 4 : 32;
}

/**
 * The graph variant's weight format, or undefined for exact weights: the exact graph keeps the key it always had,
 * so existing graph and segment caches stay valid.
 */
export function weightFormat(
  config: ModelConfig,
  requested: WeightBits | 'auto' | undefined,
  accuracyLevel: WeightFormat['accuracyLevel'] = DEFAULT_ACCURACY_LEVEL,
): WeightFormat | undefined {
  const bits = requested === undefined || requested === 'auto' ? defaultWeightBits(config) : parseWeightBits(requested);
  if (bits === 32) return undefined;
  if (bits === 16) throw new Error('internal error: 16-bit weights passed validation');
  // 4 bits: the two layers at each end of the stack at 8 bits, and the LM head at 8 bits below the quantize-by-default
  // size (KL on coder-15m 0.029 against 0.081 with every weight at 4 bits; there the head is 80 % of the weights).
  // From that size on the head goes to 4 bits too: it is a quarter of a 0.5B model's bytes read per token, and at 8
  // bits it held its decode to 2.9× the exact weights' speed, at 4 bits 3.3× (a 4-bit head costs coder-15m +0.009
  // nats of KL; BENCHMARKS.md, "The past read in place").
  return {
    bits,
    accuracyLevel,
    headBits: bits === 4 && parameterCount(config) >= QUANTIZE_FROM_PARAMETERS ? 4 : 8,
    protectedLayers: bits === 4 ? PROTECTED_LAYERS : 0,
    quantizer: QUANTIZER_VERSION,
  };
}
