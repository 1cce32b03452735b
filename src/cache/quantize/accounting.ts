/**
 * Memory accounting of quantized blocks. `quantizedBytes` measures what is actually allocated (the arrays the
 * store writes to disk); `keyBytes` / `valueBytes` predict it from the shape alone, so the cache can budget memory
 * before quantizing and the tests can check one against the other. The store's own per-entry header (a few
 * numbers) is not included: it is the store's to count.
 */
import type { Bits } from '../cache-config';
import type { QuantizedBlock } from './block';
import { keyGroupCount } from './keys';
import { valueGroupSize } from './values';

/** fp16 min + fp16 scale per group. */
const STAT_BYTES_PER_GROUP = 4;

/** Bytes of codes + mins + scales + raw, i.e. the sum of the block's buffers' byteLengths. */
export function quantizedBytes(q: QuantizedBlock): number {
  return q.codes.byteLength + q.mins.byteLength + q.scales.byteLength + (q.raw ? q.raw.byteLength : 0);
}

/** Predicted bytes of `quantizeKeys(…, tokens, d, bits, groupSize)`: ceil(n/G) groups of d (min, scale) pairs. */
export function keyBytes(tokens: number, d: number, bits: Bits, groupSize: number): number {
  if (bits === 16) return tokens * d * 4;
  return (tokens * d * bits) / 8 + keyGroupCount(tokens, groupSize) * d * STAT_BYTES_PER_GROUP;
}

/** Predicted bytes of `quantizeValues(…, tokens, d, bits, groupSize)`: d/G (min, scale) pairs per token. */
export function valueBytes(tokens: number, d: number, bits: Bits, groupSize: number): number {
  if (bits === 16) return tokens * d * 4;
  return (tokens * d * bits) / 8 + tokens * (d / valueGroupSize(d, groupSize)) * STAT_BYTES_PER_GROUP;
}
