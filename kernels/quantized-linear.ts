/**
 * A projection y = x·Wᵀ + b whose weight is either the checkpoint's float32 (a Gemm, the exact reference graph)
 * or block-quantized into `MatMulNBits` (com.microsoft): the decoder graph asks for projections through this one
 * seam, so the quantized graph differs from the exact one in nothing else.
 */
import type { GraphBuilder } from './graph-builder';
import { linear } from './layers';
import { TensorDataType } from './onnx-proto';
import { type BlockQuantized, dequantizeBlockwise, quantizeBlockwise, WEIGHT_BLOCK } from './weight-quant';

export interface WeightFormat {
  /** 32: float32 Gemm; 4 or 8: MatMulNBits with blocks of WEIGHT_BLOCK along K. */
  bits: 4 | 8 | 32;
  /**
   * MatMulNBits `accuracy_level`: 0 computes in float32 (weights dequantized on the fly); 4 quantizes the
   * activations to int8 per block and uses integer dot products on the CPU (faster, slightly less exact).
   */
  accuracyLevel: 0 | 4;
  /** Bits of the LM head when they differ from `bits` (the head's error reaches every logit directly). */
  headBits?: 4 | 8 | 32;
  /**
   * This many layers at each end of the stack keep 8-bit weights when `bits` is 4: the first layers' errors travel
   * through every later layer and the last ones' reach the logits undamped (measured in BENCHMARKS.md).
   */
  protectedLayers?: number;
  /** The quantizer's version (kernels/weight-quant.ts), so that graphs quantized by an older one are rebuilt. */
  quantizer?: number;
}

export const EXACT_WEIGHTS: WeightFormat = { bits: 32, accuracyLevel: 0 };

export interface Projection {
  /** x [T, K] → [T, N]. */
  apply(x: string, bias?: string): string;
  /** The weight as float32 [N, K], exactly the values `apply` multiplies by (for the eviction scorer's norms). */
  floatWeight(): string;
}

export function projection(
  g: GraphBuilder,
  name: string,
  dims: [number, number],
  read: () => Float32Array,
  format: WeightFormat,
): Projection {
  const [n, k] = dims;
  if (format.bits === 32) {
    const weight = g.weight({ name, dims, read });
    return { apply: (x, bias) => linear(g, x, weight, bias), floatWeight: () => weight };
  }
  const bits = format.bits;
  // The three tensors of one weight are written one after the other: quantize once for them, then let go.
  let memo: BlockQuantized | undefined;
  const quantized = () => (memo ??= quantizeBlockwise(read(), n, k, bits, WEIGHT_BLOCK));
  const kBlocks = Math.ceil(k / WEIGHT_BLOCK);
  const codes = g.weight({
    name: `${name}.nbits`,
    dims: [n, kBlocks, (WEIGHT_BLOCK * bits) / 8],
    dataType: TensorDataType.UINT8,
    read: () => quantized().codes,
  });
  const scales = g.weight({ name: `${name}.scales`, dims: [n * kBlocks], read: () => quantized().scales });
  const zeroPoints = g.weight({
    name: `${name}.zero_points`,
    dims: [n * Math.ceil((kBlocks * bits) / 8)],
    dataType: TensorDataType.UINT8,
    read: () => {
      const z = quantized().zeroPoints;
      memo = undefined;
      return z;
    },
  });
  let dequantized: string | undefined;
  return {
    apply: (x, bias) => {
      const y = g.op(
        'MatMulNBits',
        [x, codes, scales, zeroPoints],
        { K: k, N: n, bits, block_size: WEIGHT_BLOCK, accuracy_level: format.accuracyLevel },
        'com.microsoft',
      );
      return bias ? g.op('Add', [y, bias]) : y;
    },
    floatWeight: () =>
      (dequantized ??= g.weight({
        name: `${name}.dequantized`,
        dims,
        read: () => dequantizeBlockwise(quantizeBlockwise(read(), n, k, bits, WEIGHT_BLOCK)),
      })),
  };
}
