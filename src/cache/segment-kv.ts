/**
 * What the cache keeps for one segment after prefill, eviction and quantization: per layer and key-value head,
 * the kept tokens (indices into the segment, ascending) and their quantized keys and values. Positions are not
 * stored: in the parallel layout a kept token sits where it was prefilled, `firstPosition + index`.
 */
import { quantizedBytes, type QuantizedKeys, type QuantizedValues } from './quantize';

export interface HeadKv {
  /** Kept token indices within the segment, ascending (Uint16: segments are bounded by maxSegmentTokens). */
  kept: Uint16Array;
  keys: QuantizedKeys;
  values: QuantizedValues;
}

export interface SegmentKv {
  /** Tokens of the segment before eviction (header line included). */
  tokens: number;
  /** Position of the segment's first token at prefill (the sink's length in the parallel layout). */
  firstPosition: number;
  /** [layer][kvHead]. */
  layers: HeadKv[][];
}

/** Bytes actually held for a segment: codes, fp16 statistics, raw 16-bit data and kept indices. */
export function segmentBytes(segment: SegmentKv): number {
  let bytes = 0;
  for (const layer of segment.layers) {
    for (const head of layer) bytes += head.kept.byteLength + quantizedBytes(head.keys) + quantizedBytes(head.values);
  }
  return bytes;
}

export function keptTokenCount(segment: SegmentKv): number {
  let kept = 0;
  for (const layer of segment.layers) for (const head of layer) kept += head.kept.length;
  return kept;
}

/** The fp16 reference: what the segment's keys and values would take unevicted at 16 bits. */
export function fp16BytesPerToken(numLayers: number, numKvHeads: number, headDim: number): number {
  return 2 * numLayers * numKvHeads * headDim * 2;
}
