/**
 * The cache's quantization layer: KIVI-style asymmetric round-to-nearest quantization of one (segment, layer,
 * kv head) block at 2, 4 or 8 bits (16 = raw float32), fp16 group statistics chosen so that every element stays
 * within half a step, codes packed in the layout documented in pack.ts (the ONNX graph's contract).
 *
 *   keys   — per channel over groups of `groupSize` tokens (keys.ts)
 *   values — per token over groups of `groupSize` channels (values.ts)
 */
export type { PackedBits, QuantizedBlock, QuantizedKeys, QuantizedValues } from './block';
export { keyBytes, quantizedBytes, valueBytes } from './accounting';
export { kiviKeyError2bit, relativeError } from './error';
export { encodeRange, f16FloorBits, F16_MAX } from './fp16-range';
export { dequantizeKeys, keyGroupCount, quantizeKeys } from './keys';
export {
  CODES_PER_BYTE,
  codeLocation,
  codeMask,
  isPackedBits,
  packCodes,
  packedRowBytes,
  UNPACK_SHIFTS,
  unpackCodes,
} from './pack';
export { dequantizeValues, quantizeValues, valueGroupSize } from './values';
