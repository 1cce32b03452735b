/**
 * Assembles the selected segments' compressed keys and values into the compressed-attention graph's inputs,
 * per layer (kernels/dequantize.ts layout). Heads keep different numbers of tokens, so each head's run is laid
 * out as whole key groups (a segment's short tail group padded with masked slots) and every head is padded to
 * the longest; the bias is -inf on padding, so padded slots never receive attention.
 *
 * Nothing here is dequantized: the block stays 2-bit until one layer's part is expanded inside the graph.
 */
import { Tensor } from 'onnxruntime-node';
import type { CacheConfig } from './cache-config';
import type { SegmentKv } from './segment-kv';

export interface RepositoryBlock {
  feeds: Record<string, Tensor>;
  /** Real (unpadded) kept token slots over all layers and heads. */
  keptSlots: number;
  /** Slots per layer including padding (the Sc of each layer). */
  slotsPerLayer: number[];
  /** Bytes of the assembled inputs (codes, statistics, raw data, bias). */
  bytes: number;
}

export interface BlockShape {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  keyBits: CacheConfig['kBits'][];
  valueBits: CacheConfig['vBits'];
  keyGroup: number;
  valueGroup: number;
}

/**
 * Where segments sit at query time when their keys are rotated in the graph: segment j's first token is at
 * `segmentStart[j]`. `absolute` gives each slot its full position (keys stored before rotary); `delta` gives the
 * move from where the segment was prefilled (post-rotary keys placed somewhere else: the sequential layout).
 */
export interface SlotPositions {
  mode: 'absolute' | 'delta';
  segmentStart: number[];
}

export function assembleRepositoryBlock(
  segments: SegmentKv[],
  shape: BlockShape,
  apeScale = 1,
  slotPositions?: SlotPositions,
): RepositoryBlock {
  const { numLayers, numKvHeads: KV, headDim: d, keyGroup: gs, valueGroup: vg } = shape;
  const feeds: Record<string, Tensor> = {};
  const slotsPerLayer: number[] = [];
  let keptSlots = 0;
  let bytes = 0;
  const realSlotBias = Math.log(apeScale);
  for (let l = 0; l < numLayers; l++) {
    const kb = shape.keyBits[l]!;
    const vb = shape.valueBits;
    // Slots per head: each segment's kept tokens rounded up to whole key groups.
    const slotsOf = (s: SegmentKv, h: number) => Math.ceil(s.layers[l]![h]!.kept.length / gs) * gs;
    const headSlots = Array.from({ length: KV }, (_, h) => segments.reduce((n, s) => n + slotsOf(s, h), 0));
    const sc = Math.max(0, ...headSlots);
    slotsPerLayer.push(sc);
    const bias = new Float32Array(KV * sc).fill(-Infinity);
    const positions = slotPositions ? new BigInt64Array(KV * sc) : null;
    const keyRow = (d * kb) / 8;
    const valueRow = (d * vb) / 8;
    const keyCodes = kb === 16 ? null : new Uint8Array(KV * sc * keyRow);
    const keyMin = kb === 16 ? null : new Uint16Array(KV * (sc / gs) * d);
    const keyScale = kb === 16 ? null : new Uint16Array(KV * (sc / gs) * d);
    const keyRaw = kb === 16 ? new Float32Array(KV * sc * d) : null;
    const valueCodes = vb === 16 ? null : new Uint8Array(KV * sc * valueRow);
    const valueMin = vb === 16 ? null : new Uint16Array(KV * sc * (d / vg));
    const valueScale = vb === 16 ? null : new Uint16Array(KV * sc * (d / vg));
    const valueRaw = vb === 16 ? new Float32Array(KV * sc * d) : null;
    for (let h = 0; h < KV; h++) {
      let slot = 0;
      for (const [j, s] of segments.entries()) {
        const head = s.layers[l]![h]!;
        const k = head.kept.length;
        const at = h * sc + slot; // first slot of this run in the [KV, Sc] grid
        bias.fill(realSlotBias, at, at + k);
        if (positions && slotPositions) {
          const start = slotPositions.segmentStart[j]!;
          for (let t = 0; t < k; t++) {
            positions[at + t] = BigInt(
              slotPositions.mode === 'absolute' ? start + head.kept[t]! : start - s.firstPosition,
            );
          }
        }
        if (keyCodes) {
          keyCodes.set(head.keys.codes, at * keyRow);
          keyMin!.set(head.keys.mins, (at / gs) * d);
          keyScale!.set(head.keys.scales, (at / gs) * d);
        } else keyRaw!.set(head.keys.raw!, at * d);
        if (valueCodes) {
          valueCodes.set(head.values.codes, at * valueRow);
          valueMin!.set(head.values.mins, at * (d / vg));
          valueScale!.set(head.values.scales, at * (d / vg));
        } else valueRaw!.set(head.values.raw!, at * d);
        slot += slotsOf(s, h);
        keptSlots += k;
      }
    }
    feeds[`compressed_bias.${l}`] = new Tensor('float32', bias, [KV, sc]);
    if (positions) feeds[`compressed_key_position.${l}`] = new Tensor('int64', positions, [KV, sc]);
    if (keyCodes) {
      feeds[`compressed_key_codes.${l}`] = new Tensor('uint8', keyCodes, [KV, sc, keyRow]);
      feeds[`compressed_key_min.${l}`] = new Tensor('float16', keyMin!, [KV, sc / gs, d]);
      feeds[`compressed_key_scale.${l}`] = new Tensor('float16', keyScale!, [KV, sc / gs, d]);
    } else feeds[`compressed_key_raw.${l}`] = new Tensor('float32', keyRaw!, [KV, sc, d]);
    if (valueCodes) {
      feeds[`compressed_value_codes.${l}`] = new Tensor('uint8', valueCodes, [KV, sc, valueRow]);
      feeds[`compressed_value_min.${l}`] = new Tensor('float16', valueMin!, [KV, sc, d / vg]);
      feeds[`compressed_value_scale.${l}`] = new Tensor('float16', valueScale!, [KV, sc, d / vg]);
    } else feeds[`compressed_value_raw.${l}`] = new Tensor('float32', valueRaw!, [KV, sc, d]);
    for (const a of [bias, positions, keyCodes, keyMin, keyScale, keyRaw, valueCodes, valueMin, valueScale, valueRaw]) {
      bytes += a?.byteLength ?? 0;
    }
  }
  return { feeds, keptSlots, slotsPerLayer, bytes };
}
