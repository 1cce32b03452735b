/**
 * Prefill of one repository segment into the compressed cache: run the segment (plus a look-ahead probe) after
 * the shared sink with the scoring graph, hand the scorer its window attention and value norms, keep the
 * budgeted tokens per layer and head, and quantize what is kept. The probe is dropped; only kept tokens survive.
 */
import type { DecoderSession } from '../engine/decoder-session';
import type { PlainKvCache } from '../engine/kv-cache';
import type { CacheConfig } from './cache-config';
import { evictSegment } from './eviction';
import type { KeptTokens, LayerScoringInputs, ScorerSteps, SegmentShape } from './eviction/types';
import { quantizeKeys, quantizeValues } from './quantize';
import type { HeadKv, SegmentKv } from './segment-kv';

export interface SegmentPrefillInput {
  /** Token ids of the segment: its header line first, then its text. */
  ids: number[];
  /** Leading tokens that form the header line (never evicted). */
  headerTokens: number;
  /** 1 = never evicted (declaration names and signatures from the syntax layer); length = ids.length. */
  protectedMask?: Uint8Array;
}

/** A segment after the scoring forward pass, before eviction and quantization: reusable across configurations. */
export interface ScoredSegment {
  input: SegmentPrefillInput;
  shape: SegmentShape;
  /** Full-precision keys (after rotary) and values per layer, token-major [n, KV, d], probe dropped. */
  rawKeys: Float32Array[];
  /** The same keys before rotary, for caches that quantize those (KVQuant); empty if the graph gave none. */
  rawKeysPreRope: Float32Array[];
  rawValues: Float32Array[];
  layers: LayerScoringInputs[];
}

/** Rows `indices` of head `h` from a token-major [T, KV, d] array, as a [k, d] block. */
export function gatherHead(
  data: Float32Array,
  indices: ArrayLike<number>,
  h: number,
  kvHeads: number,
  d: number,
): Float32Array {
  const out = new Float32Array(indices.length * d);
  for (let j = 0; j < indices.length; j++) {
    const from = (indices[j]! * kvHeads + h) * d;
    out.set(data.subarray(from, from + d), j * d);
  }
  return out;
}

/** The forward pass of a segment (plus probe) after the sink, with the scorer's inputs. */
export async function scoreSegment(
  input: SegmentPrefillInput,
  session: DecoderSession,
  sink: PlainKvCache,
  probeIds: number[],
  window: number,
): Promise<ScoredSegment> {
  const { numLayers, numKvHeads: KV, headDim: d, numHeads } = session.config;
  const G = numHeads / KV;
  const n = input.ids.length;
  if (n === 0 || n > 65535) throw new Error(`a segment must have 1..65535 tokens, got ${n}`);
  const ids = [...input.ids, ...probeIds];
  const t = ids.length;
  const sinkLen = sink.length;
  const out = await session.forward({
    ids,
    positions: ids.map((_, i) => sinkLen + i),
    past: sink,
    logitIndex: [t - 1],
  });
  const layers: LayerScoringInputs[] = [];
  for (let l = 0; l < numLayers; l++) {
    const norms = out.outputs[`value_norms.${l}`]!; // [KV, G, T] → [KV·G, n]: drop the probe's columns
    const valueNorms = new Float32Array(KV * G * n);
    for (let r = 0; r < KV * G; r++) valueNorms.set(norms.subarray(r * t, r * t + n), r * n);
    layers.push({
      windowProbs: out.outputs[`window_probs.${l}`],
      allProbsColumnSums: out.outputs[`key_attention_sums.${l}`],
      valueNorms,
    });
  }
  return {
    input,
    shape: { tokens: n, kvHeads: KV, groupHeads: G, window: Math.min(window, t), sinkLen, probeLen: probeIds.length },
    rawKeys: out.keys.map((k) => k.slice(0, n * KV * d)),
    rawKeysPreRope: out.outputs['prerope_key.0']
      ? Array.from({ length: numLayers }, (_, l) => out.outputs[`prerope_key.${l}`]!.slice(0, n * KV * d))
      : [],
    rawValues: out.values.map((v) => v.slice(0, n * KV * d)),
    layers,
  };
}

/** Eviction and quantization of a scored segment under one configuration. */
/**
 * Fills the evicted slots of one head's block instead of dropping them (`config.emptiedSlots`): with a neutral
 * filler's keys and values at the same positions ("Probing the Prompt KV Cache": structurally valid stand-ins keep
 * attention well-behaved) or with zeros (the baseline it is measured against). Every token stays a slot.
 */
function filledBlock(
  raw: Float32Array,
  filler: Float32Array | null,
  kept: Int32Array,
  n: number,
  h: number,
  kvHeads: number,
  d: number,
): Float32Array {
  const all = Array.from({ length: n }, (_, i) => i);
  const block = filler ? gatherHead(filler, all, h, kvHeads, d) : new Float32Array(n * d);
  for (const t of kept) block.set(raw.subarray((t * kvHeads + h) * d, (t * kvHeads + h + 1) * d), t * d);
  return block;
}

/** The tokens the configured eviction keeps of a scored segment, per layer and head (any storage layout). */
export function evictScored(scored: ScoredSegment, config: CacheConfig, overrides?: Partial<ScorerSteps>): KeptTokens {
  return evictSegment(
    {
      shape: scored.shape,
      protectedMask: scored.input.protectedMask ?? new Uint8Array(scored.shape.tokens),
      headerTokens: scored.input.headerTokens,
      layers: scored.layers,
    },
    config,
    overrides,
  );
}

export function compressSegment(
  scored: ScoredSegment,
  config: CacheConfig,
  keyBits: CacheConfig['kBits'][],
  overrides?: Partial<ScorerSteps>,
  /** The scored neutral filler of the same length and template, for `emptiedSlots: 'filler'`. */
  filler?: ScoredSegment,
): SegmentKv {
  const { tokens: n, kvHeads: KV } = scored.shape;
  const d = scored.rawKeys[0]!.length / (n * KV);
  const kept = evictScored(scored, config, overrides);
  if (config.preRopeKeys && scored.rawKeysPreRope.length !== scored.rawKeys.length) {
    throw new Error('internal error: pre-rotary keys requested but the scoring graph did not output them');
  }
  const keySource = config.preRopeKeys ? scored.rawKeysPreRope : scored.rawKeys;
  const fillerKeys = filler && (config.preRopeKeys ? filler.rawKeysPreRope : filler.rawKeys);
  if (config.emptiedSlots === 'filler' && (!filler || filler.shape.tokens !== n)) {
    throw new Error('internal error: filler slots need a scored filler of the same length');
  }
  const layers: HeadKv[][] = keySource.map((rawKeys, l) =>
    Array.from({ length: KV }, (_, h) => {
      const idx = kept.layers[l]!.heads[h]!;
      if (config.emptiedSlots !== 'drop') {
        const useFiller = config.emptiedSlots === 'filler';
        const keys = filledBlock(rawKeys, useFiller ? fillerKeys![l]! : null, idx, n, h, KV, d);
        const values = filledBlock(scored.rawValues[l]!, useFiller ? filler!.rawValues[l]! : null, idx, n, h, KV, d);
        return {
          kept: Uint16Array.from({ length: n }, (_, i) => i),
          keys: quantizeKeys(keys, n, d, keyBits[l]!, config.groupSize, config.rangeSearch),
          values: quantizeValues(values, n, d, config.vBits, config.groupSize, config.rangeSearch),
        };
      }
      return {
        kept: Uint16Array.from(idx),
        keys: quantizeKeys(
          gatherHead(rawKeys, idx, h, KV, d),
          idx.length,
          d,
          keyBits[l]!,
          config.groupSize,
          config.rangeSearch,
        ),
        values: quantizeValues(
          gatherHead(scored.rawValues[l]!, idx, h, KV, d),
          idx.length,
          d,
          config.vBits,
          config.groupSize,
          config.rangeSearch,
        ),
      };
    }),
  );
  return { tokens: n, firstPosition: scored.shape.sinkLen, layers };
}
