/**
 * From keep masks to the flattened layout the store writes: per layer, the kept token indices of all heads in
 * one Int32Array with per-head offsets (variable kept lengths per head, DESIGN section 3), each head ascending
 * so that quantization groups hold consecutive surviving tokens in their original order.
 */
import type { KeptLayer, KeptTokens } from './types';

/** masks: per layer [kvHeads, n] (1 = kept). */
export function keptFromMasks(masks: Uint8Array[], tokens: number, kvHeads: number): KeptTokens {
  const layerCounts = new Int32Array(masks.length);
  const layers: KeptLayer[] = masks.map((mask, l) => {
    let count = 0;
    for (let i = 0; i < mask.length; i++) count += mask[i];
    const indices = new Int32Array(count);
    const offsets = new Int32Array(kvHeads + 1);
    let k = 0;
    for (let h = 0; h < kvHeads; h++) {
      offsets[h] = k;
      for (let j = 0; j < tokens; j++) if (mask[h * tokens + j]) indices[k++] = j;
    }
    offsets[kvHeads] = k;
    layerCounts[l] = count;
    const heads = Array.from({ length: kvHeads }, (_, h) => indices.subarray(offsets[h], offsets[h + 1]));
    return { indices, offsets, heads };
  });
  let total = 0;
  for (let l = 0; l < layerCounts.length; l++) total += layerCounts[l];
  return { tokens, kvHeads, layers, layerCounts, total };
}
