/**
 * A segment's cache in the fused (MatMulNBits) layout: the same kept tokens as the KIVI SegmentKv, quantized on
 * the other axes (quantize.ts). Eviction is shared: a scored segment is evicted once and can be quantized in
 * either layout, which is how the benchmark compares them on identical tokens.
 */
import type { FusedLayout } from '../../../kernels/fused-attention';
import type { CacheConfig } from '../cache-config';
import type { ScorerSteps } from '../eviction/types';
import { evictScored, gatherHead, type ScoredSegment } from '../segment-prefill';
import { type FusedQuantized, quantizeFusedKeys, quantizeFusedValues } from './quantize';
import type { RangeSearch } from '../quantize/clip';
import type { KeySmoothing } from './smoothing';

export interface FusedHeadKv {
  /** Kept token indices within the segment, ascending. */
  kept: Uint16Array;
  keys: FusedQuantized;
  values: FusedQuantized;
}

export interface FusedSegmentKv {
  layout: 'fused';
  tokens: number;
  firstPosition: number;
  /** [layer][kvHead]. */
  layers: FusedHeadKv[][];
}

export interface FusedQuantConfig {
  /** Bits of keys per layer (2, 4, 8 or 16) and of values. */
  keyBits: CacheConfig['kBits'][];
  valueBits: CacheConfig['vBits'];
  /** Channels per key block and tokens per value block (MatMulNBits block sizes: 16..256, powers of two). */
  keyBlock: number;
  valueBlock: number;
  /** Subtract per-channel key means over each value block of tokens before quantizing (quantize.ts). */
  centerKeys: boolean;
  /** Hadamard-rotate quantized keys and values (rotation.ts); 16-bit tensors are stored as they are. */
  rotate?: boolean;
  /** How each group's range is chosen (quantize/clip.ts); min–max when absent. */
  range?: RangeSearch;
}

/** Quantizes one head's kept keys and values ([k, d] token-major each) in the fused layout. */
export function quantizeFusedHead(
  kept: Uint16Array,
  keys: Float32Array,
  values: Float32Array,
  d: number,
  layer: number,
  quant: FusedQuantConfig,
  smooth: Float32Array,
): FusedHeadKv {
  const k = kept.length;
  return {
    kept,
    keys: quantizeFusedKeys(
      keys,
      k,
      d,
      quant.keyBits[layer]!,
      quant.keyBlock,
      smooth,
      quant.centerKeys ? quant.valueBlock : 0,
      quant.rotate ?? false,
      quant.range,
    ),
    values: quantizeFusedValues(values, k, d, quant.valueBits, quant.valueBlock, quant.rotate ?? false, quant.range),
  };
}

/** Eviction (the configured policy) and fused quantization of a scored segment. */
export function compressSegmentFused(
  scored: ScoredSegment,
  config: CacheConfig,
  quant: FusedQuantConfig,
  smoothing: KeySmoothing,
  overrides?: Partial<ScorerSteps>,
): FusedSegmentKv {
  const { tokens: n, kvHeads: KV } = scored.shape;
  const d = scored.rawKeys[0]!.length / (n * KV);
  const kept = evictScored(scored, config, overrides);
  const layers = scored.rawKeys.map((rawKeys, l) =>
    Array.from({ length: KV }, (_, h) => {
      const idx = kept.layers[l]!.heads[h]!;
      return quantizeFusedHead(
        Uint16Array.from(idx),
        gatherHead(rawKeys, idx, h, KV, d),
        gatherHead(scored.rawValues[l]!, idx, h, KV, d),
        d,
        l,
        quant,
        smoothing.forHead(l, h),
      );
    }),
  );
  return { layout: 'fused', tokens: n, firstPosition: scored.shape.sinkLen, layers };
}

/** The fused attention graph's layout for blocks quantized with `quant`, at `capacity` token slots per layer. */
export function fusedGraphLayout(quant: FusedQuantConfig, capacity: number[]): FusedLayout {
  return {
    keyBits: quant.keyBits,
    valueBits: quant.keyBits.map(() => quant.valueBits),
    keyBlock: quant.keyBlock,
    valueBlock: quant.valueBlock,
    capacity,
    centerKeys: quant.centerKeys,
    // Only when on: a layout without the field keeps the graph cache key it had before rotation existed.
    ...(quant.rotate ? { rotate: true } : {}),
  };
}
