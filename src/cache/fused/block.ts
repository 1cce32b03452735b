/**
 * Assembles fused-layout segments into the inputs of the fused attention graph (kernels/fused-attention.ts), per
 * layer and kv head. As in the KIVI block (../repository-block.ts) each head's run of a segment is padded to whole
 * value blocks (tokens) and masked by the bias; unlike it, the token capacity Sc is a shape class fixed by the
 * graph (MatMulNBits' N and K are attributes), so every head is padded up to `capacity`.
 *
 * Statistics go in as float32 (scale, zero) pairs (quantize.ts `kernelStats`): MatMulNBits wants scales of A's
 * type, and converting here, once per query, keeps Cast nodes out of every decode step.
 */
import { Tensor } from 'onnxruntime-node';
import { f16BitsToF32 } from '../../engine/safetensors';
import type { Bits } from '../cache-config';
import { channelRowBytes, kernelStats } from './quantize';
import type { FusedSegmentKv } from './segment';
import type { KeySmoothing } from './smoothing';

export interface FusedBlockShape {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  keyBits: Bits[];
  valueBits: Bits;
  keyBlock: number;
  valueBlock: number;
  centerKeys: boolean;
}

export interface FusedRepositoryBlock {
  feeds: Record<string, Tensor>;
  /** Real kept token slots over all layers and heads. */
  keptSlots: number;
  /** Slots in use per layer (the longest head's padded runs) and the graph's capacity per layer. */
  slotsPerLayer: number[];
  capacity: number[];
  bytes: number;
}

/**
 * The shape class for `slots` token slots: four steps per octave from 1024 up (1024, 1280, 1536, 1792, 2048,
 * 2560, ...), so padding wastes under 25 % of the block while a repository's queries need few graphs.
 */
export function capacityClass(slots: number, valueBlock: number): number {
  const min = Math.max(1024, valueBlock);
  if (slots <= min) return min;
  const octave = 2 ** Math.floor(Math.log2(slots));
  const step = Math.max(valueBlock, octave / 4);
  return Math.ceil(slots / step) * step;
}

/** Slots head h of layer l needs: each segment's kept tokens rounded up to whole value blocks. */
export function fusedSlots(segments: FusedSegmentKv[], layer: number, numKvHeads: number, valueBlock: number): number {
  let most = 0;
  for (let h = 0; h < numKvHeads; h++) {
    let n = 0;
    for (const s of segments) n += Math.ceil(s.layers[layer]![h]!.kept.length / valueBlock) * valueBlock;
    most = Math.max(most, n);
  }
  return most;
}

export function assembleFusedBlock(
  segments: FusedSegmentKv[],
  shape: FusedBlockShape,
  smoothing: KeySmoothing,
  options: { capacity?: number[]; apeScale?: number } = {},
): FusedRepositoryBlock {
  const { numLayers, numKvHeads: KV, headDim: d, keyBlock: kb, valueBlock: vb } = shape;
  const feeds: Record<string, Tensor> = {};
  const slotsPerLayer: number[] = [];
  const capacity: number[] = [];
  const realSlotBias = Math.log(options.apeScale ?? 1);
  let keptSlots = 0;
  let bytes = 0;
  const add = (name: string, t: Tensor) => {
    feeds[name] = t;
    bytes += (t.data as ArrayBufferView).byteLength;
  };
  const used = Array.from({ length: numLayers }, (_, l) => fusedSlots(segments, l, KV, vb));
  const shared = capacityClass(Math.max(0, ...used), vb);
  for (let l = 0; l < numLayers; l++) {
    const sc = options.capacity?.[l] ?? shared;
    if (sc < used[l]! || sc % vb !== 0) throw new Error(`fused block: capacity ${sc} cannot hold ${used[l]} slots`);
    slotsPerLayer.push(used[l]!);
    capacity.push(sc);
    const kBits = shape.keyBits[l]!;
    const vBits = shape.valueBits;
    const bias = new Float32Array(KV * sc).fill(-Infinity);
    for (let h = 0; h < KV; h++) {
      const keyRow = (d * kBits) / 8;
      const keyCodes = kBits === 16 ? null : new Uint8Array(sc * keyRow);
      const keyScale = kBits === 16 ? null : new Float32Array(sc * (d / kb));
      const keyZero = kBits === 16 ? null : new Float32Array(sc * (d / kb));
      const keyRaw = kBits === 16 ? new Float32Array(sc * d) : null;
      const keyCenter = kBits !== 16 && shape.centerKeys ? new Float32Array(d * (sc / vb)) : null;
      const valueRow = (sc * vBits) / 8; // one channel's codes over all slots
      const valueCodes = vBits === 16 ? null : new Uint8Array(d * valueRow);
      const valueScale = vBits === 16 ? null : new Float32Array(d * (sc / vb));
      const valueZero = vBits === 16 ? null : new Float32Array(d * (sc / vb));
      const valueRaw = vBits === 16 ? new Float32Array(sc * d) : null;
      let at = 0; // first slot of the current run
      for (const s of segments) {
        const head = s.layers[l]![h]!;
        const k = head.kept.length;
        bias.fill(realSlotBias, h * sc + at, h * sc + at + k);
        if (keyCodes) {
          keyCodes.set(head.keys.codes, at * keyRow);
          for (let i = 0; i < k * (d / kb); i++) {
            const st = kernelStats(head.keys.mins[i]!, head.keys.scales[i]!);
            keyScale![at * (d / kb) + i] = st.scale;
            keyZero![at * (d / kb) + i] = st.zero;
          }
        } else keyRaw!.set(head.keys.raw!, at * d);
        if (keyCenter) {
          if (head.keys.centerGroup !== vb) throw new Error('fused block: keys must be centered over value blocks');
          const groups = Math.ceil(k / vb);
          for (let g = 0; g < groups; g++) {
            for (let c = 0; c < d; c++)
              keyCenter[c * (sc / vb) + at / vb + g] = f16BitsToF32(head.keys.centers[g * d + c]!);
          }
        }
        if (valueCodes) {
          const groups = Math.ceil(k / vb);
          const rowBytes = channelRowBytes(k, vBits as 2 | 4 | 8);
          for (let c = 0; c < d; c++) {
            valueCodes.set(
              head.values.codes.subarray(c * rowBytes, (c + 1) * rowBytes),
              c * valueRow + (at * vBits) / 8,
            );
            for (let g = 0; g < groups; g++) {
              const st = kernelStats(head.values.mins[c * groups + g]!, head.values.scales[c * groups + g]!);
              valueScale![c * (sc / vb) + at / vb + g] = st.scale;
              valueZero![c * (sc / vb) + at / vb + g] = st.zero;
            }
          }
        } else valueRaw!.set(head.values.raw!, at * d);
        at += Math.ceil(k / vb) * vb;
        keptSlots += k;
      }
      if (keyCodes) {
        add(`fused_key_codes.${l}.${h}`, new Tensor('uint8', keyCodes, [sc, d / kb, (kb * kBits) / 8]));
        add(`fused_key_scale.${l}.${h}`, new Tensor('float32', keyScale!, [sc, d / kb]));
        add(`fused_key_zero.${l}.${h}`, new Tensor('float32', keyZero!, [sc, d / kb]));
      } else add(`fused_key_raw.${l}.${h}`, new Tensor('float32', keyRaw!, [sc, d]));
      if (keyCenter) add(`fused_key_center.${l}.${h}`, new Tensor('float32', keyCenter, [d, sc / vb]));
      if (valueCodes) {
        add(`fused_value_codes.${l}.${h}`, new Tensor('uint8', valueCodes, [d, sc / vb, (vb * vBits) / 8]));
        add(`fused_value_scale.${l}.${h}`, new Tensor('float32', valueScale!, [d, sc / vb]));
        add(`fused_value_zero.${l}.${h}`, new Tensor('float32', valueZero!, [d, sc / vb]));
      } else add(`fused_value_raw.${l}.${h}`, new Tensor('float32', valueRaw!, [sc, d]));
    }
    add(`fused_bias.${l}`, new Tensor('float32', bias, [KV, sc]));
    if (kBits !== 16) add(`fused_key_smooth.${l}`, new Tensor('float32', smoothing.layers[l]!, [KV, d]));
  }
  return { feeds, keptSlots, slotsPerLayer, capacity, bytes };
}
