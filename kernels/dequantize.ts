/**
 * In-graph dequantization of the compressed cache (layout: src/cache/quantize). Codes are packed along channels,
 * 8/b codes per byte, lowest bits first. Unpacking uses one Gather from a 256-row lookup table (byte → its 8/b
 * codes as floats) instead of shift/mask/concat/cast chains: one memory-bound pass, and the table is 4 KB at most.
 *
 * keys:   codes uint8 [KV, S, d·b/8], min/scale fp16 [KV, S/groupSize, d]  (per channel over groups of tokens;
 *         the assembled block pads each segment's short tail group with masked slots, so S is whole groups)
 * values: codes uint8 [KV, S, d·b/8], min/scale fp16 [KV, S, d/groupSize]  (per token over groups of channels)
 * 16 bits: raw float32 [KV, S, d], no codes.
 */
import type { GraphBuilder } from './graph-builder';
import { TensorDataType } from './onnx-proto';

export type StoredBits = 2 | 4 | 8 | 16;

export function codeLookupTable(bits: 2 | 4 | 8): Float32Array {
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  const table = new Float32Array(256 * perByte);
  for (let byte = 0; byte < 256; byte++) {
    for (let k = 0; k < perByte; k++) table[byte * perByte + k] = (byte >> (k * bits)) & mask;
  }
  return table;
}

/** uint8 codes [KV, S, d·b/8] → float codes [KV, S, d]. */
function unpackCodes(g: GraphBuilder, codes: string, bits: 2 | 4 | 8, kvHeads: number, headDim: number): string {
  const perByte = 8 / bits;
  const table = g.constant(codeLookupTable(bits), TensorDataType.FLOAT, [256, perByte]);
  const unpacked = g.op('Gather', [table, g.op('Cast', [codes], { to: TensorDataType.INT32 })], { axis: 0 });
  return g.op('Reshape', [unpacked, g.ints([kvHeads, -1, headDim])]);
}

export interface CompressedInputs {
  codes?: string;
  min?: string;
  scale?: string;
  raw?: string;
}

/**
 * codes · scale + min over groups: the codes [KV, S, d] are viewed as `groupShape` (the group axis at `statAxis`,
 * where the per-group statistics are broadcast), then flattened back to [KV, S, d].
 */
function dequantizeGrouped(
  g: GraphBuilder,
  inputs: CompressedInputs,
  bits: 2 | 4 | 8,
  kvHeads: number,
  headDim: number,
  groupShape: number[],
  statAxis: number,
): string {
  const codes = unpackCodes(g, inputs.codes!, bits, kvHeads, headDim);
  const grouped = g.op('Reshape', [codes, g.ints(groupShape)]);
  const f32 = (x: string) => g.op('Unsqueeze', [g.op('Cast', [x], { to: TensorDataType.FLOAT }), g.ints([statAxis])]);
  const deq = g.op('Add', [g.op('Mul', [grouped, f32(inputs.scale!)]), f32(inputs.min!)]);
  return g.op('Reshape', [deq, g.ints([kvHeads, -1, headDim])]);
}

/** Dequantized keys [KV, S, d]: statistics per channel over groups of `groupSize` tokens. */
export function dequantizeKeys(
  g: GraphBuilder,
  inputs: CompressedInputs,
  bits: StoredBits,
  kvHeads: number,
  headDim: number,
  groupSize: number,
): string {
  if (bits === 16) return inputs.raw!;
  return dequantizeGrouped(g, inputs, bits, kvHeads, headDim, [kvHeads, -1, groupSize, headDim], 2);
}

/** Dequantized values [KV, S, d]: statistics per token over groups of `groupSize` channels (a divisor of d). */
export function dequantizeValues(
  g: GraphBuilder,
  inputs: CompressedInputs,
  bits: StoredBits,
  kvHeads: number,
  headDim: number,
  groupSize: number,
): string {
  if (bits === 16) return inputs.raw!;
  return dequantizeGrouped(g, inputs, bits, kvHeads, headDim, [kvHeads, -1, headDim / groupSize, groupSize], 3);
}
