/**
 * Which storage layout a cache configuration gets. The fused (MatMulNBits) layout is the faster one at decode
 * (BENCHMARKS.md, decode table) but holds fewer configurations: onnxruntime 1.30 dequantizes 2- and 4-bit blocks
 * only, block sizes must be powers of two in 16..256, and attention multiplies the stored keys as they are, so
 * keys cannot be rotated to new positions (no pre-rotary keys, no sequential layout) and no filler slots exist.
 * `auto` takes fused wherever it can; an explicit `fused` that cannot hold the rest of the configuration is an
 * error naming the setting in the way.
 */
import { MATMUL_NBITS_BLOCK_SIZES } from '../../kernels/fused-attention';
import type { CacheConfig } from './cache-config';

/** Why `config` cannot use the fused layout for a model of head size `headDim`, or null when it can. */
export function fusedObstacle(config: CacheConfig, headDim: number): string | null {
  const bits = [config.kBits, config.vBits, ...(config.protectLayers === 'none' ? [] : [config.protectBits])];
  if (bits.some((b) => b === 8)) return 'the fused layout stores 2, 4 or 16 bits, not 8';
  if (config.preRopeKeys) return 'keys quantized before rotary need the KIVI layout (--key-rotary post for fused)';
  if (config.layout === 'sequential') return 'the sequential layout rotates keys in the graph: KIVI layout only';
  if (config.emptiedSlots !== 'drop') return 'filler or zeroed slots are implemented for the KIVI layout only';
  if (!MATMUL_NBITS_BLOCK_SIZES.includes(config.groupSize) || headDim % config.groupSize !== 0) {
    return `group size ${config.groupSize} is not a MatMulNBits block size dividing the head size ${headDim}`;
  }
  if (!MATMUL_NBITS_BLOCK_SIZES.includes(config.valueBlock)) {
    return `value block ${config.valueBlock} is not a MatMulNBits block size (${MATMUL_NBITS_BLOCK_SIZES.join(', ')})`;
  }
  return null;
}

/**
 * `auto` chooses fused on the CPU only: that is where it was measured faster (and where MatMulNBits with the block
 * as a graph input was checked at 2 bits); GPU providers keep the KIVI layout: on WebGPU (H200) the fused one measured 2.1-2.5x slower.
 */
export function effectiveQuantLayout(config: CacheConfig, headDim: number, provider = 'cpu'): 'kivi' | 'fused' {
  // kvRotation is the fused graph's (the query and context rotated inside it): KIVI blocks are stored unrotated.
  if (config.quantLayout === 'kivi') return 'kivi';
  if (config.quantLayout === 'auto' && provider !== 'cpu') return 'kivi';
  const obstacle = fusedObstacle(config, headDim);
  if (config.quantLayout === 'fused' && obstacle) throw new Error(`--quant-layout fused: ${obstacle}`);
  return obstacle ? 'kivi' : 'fused';
}
