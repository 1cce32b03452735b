/**
 * What the cache keeps for one segment after prefill, eviction and quantization: per layer and key-value head,
 * the kept tokens (indices into the segment, ascending) and their quantized keys and values. Positions are not
 * stored: in the parallel layout a kept token sits where it was prefilled, `firstPosition + index`.
 */
import { fusedBytes } from './fused/quantize';
import type { FusedSegmentKv } from './fused/segment';
import { quantizedBytes, type QuantizedKeys, type QuantizedValues } from './quantize';

export interface HeadKv {
  /** Kept token indices within the segment, ascending (Uint16: segments are bounded by maxSegmentTokens). */
  kept: Uint16Array;
  keys: QuantizedKeys;
  values: QuantizedValues;
}

/** A segment in the KIVI layout (`layout` absent or 'kivi'). */
export interface SegmentKv {
  layout?: 'kivi';
  /** Tokens of the segment before eviction (header line included). */
  tokens: number;
  /** Position of the segment's first token at prefill (the sink's length in the parallel layout). */
  firstPosition: number;
  /** [layer][kvHead]. */
  layers: HeadKv[][];
}

/** What the cache holds for a segment, in either storage layout (quant-layout.ts). */
export type CachedSegment = SegmentKv | FusedSegmentKv;

export function isFused(segment: CachedSegment): segment is FusedSegmentKv {
  return segment.layout === 'fused';
}

/** Bytes actually held for a segment: codes, fp16 statistics (and key centers), raw 16-bit data, kept indices. */
export function segmentBytes(segment: CachedSegment): number {
  let bytes = 0;
  if (isFused(segment)) {
    for (const layer of segment.layers) {
      for (const head of layer) bytes += head.kept.byteLength + fusedBytes(head.keys) + fusedBytes(head.values);
    }
    return bytes;
  }
  for (const layer of segment.layers) {
    for (const head of layer) bytes += head.kept.byteLength + quantizedBytes(head.keys) + quantizedBytes(head.values);
  }
  return bytes;
}

export function keptTokenCount(segment: CachedSegment): number {
  let kept = 0;
  for (const layer of segment.layers) for (const head of layer) kept += head.kept.length;
  return kept;
}

/** The fp16 reference: what the segment's keys and values would take unevicted at 16 bits. */
export function fp16BytesPerToken(numLayers: number, numKvHeads: number, headDim: number): number {
  return 2 * numLayers * numKvHeads * headDim * 2;
}
