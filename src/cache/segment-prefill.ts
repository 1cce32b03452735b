/**
 * Prefill of one repository segment into the compressed cache: run the segment (plus a look-ahead probe) after
 * the shared sink with the scoring graph, hand the scorer its window attention and value norms, keep the
 * budgeted tokens per layer and head, and quantize what is kept. The probe is dropped; only kept tokens survive.
 */
import type { DecoderSession } from '../engine/decoder-session';
import type { PlainKvCache } from '../engine/kv-cache';
import type { CacheConfig } from './cache-config';
import { evictSegment } from './eviction';
import type { LayerScoringInputs, ScorerSteps } from './eviction/types';
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

export interface SegmentPrefillContext {
  session: DecoderSession;
  sink: PlainKvCache;
  /** Probe token ids appended after the segment for the observation window, then dropped. */
  probeIds: number[];
  config: CacheConfig;
  /** Bits of keys per layer (calibrated protection raises some). */
  keyBits: CacheConfig['kBits'][];
  /** Ablations of single scorer steps (benchmarks only). */
  scorerOverrides?: Partial<ScorerSteps>;
}

export interface PrefilledSegment {
  kv: SegmentKv;
  /** Full-precision keys per layer [n, KV, d] before eviction, for calibration and error reports. */
  rawKeys: Float32Array[];
  rawValues: Float32Array[];
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

export async function prefillSegment(
  input: SegmentPrefillInput,
  ctx: SegmentPrefillContext,
): Promise<PrefilledSegment> {
  const { session, sink, config } = ctx;
  const { numLayers, numKvHeads: KV, headDim: d, numHeads } = session.config;
  const G = numHeads / KV;
  const n = input.ids.length;
  if (n === 0 || n > 65535) throw new Error(`a segment must have 1..65535 tokens, got ${n}`);
  const ids = [...input.ids, ...ctx.probeIds];
  const t = ids.length;
  const sinkLen = sink.length;
  const out = await session.forward({
    ids,
    positions: ids.map((_, i) => sinkLen + i),
    past: sink,
    logitIndex: [t - 1],
  });
  const window = Math.min(config.window, t);
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
  const kept = evictSegment(
    {
      shape: { tokens: n, kvHeads: KV, groupHeads: G, window, sinkLen, probeLen: ctx.probeIds.length },
      protectedMask: input.protectedMask ?? new Uint8Array(n),
      headerTokens: input.headerTokens,
      layers,
    },
    config,
    ctx.scorerOverrides,
  );
  const kvLayers: HeadKv[][] = [];
  for (let l = 0; l < numLayers; l++) {
    const heads: HeadKv[] = [];
    for (let h = 0; h < KV; h++) {
      const idx = kept.layers[l]!.heads[h]!;
      const keys = gatherHead(out.keys[l]!, idx, h, KV, d);
      const values = gatherHead(out.values[l]!, idx, h, KV, d);
      heads.push({
        kept: Uint16Array.from(idx),
        keys: quantizeKeys(keys, idx.length, d, ctx.keyBits[l]!, config.groupSize),
        values: quantizeValues(values, idx.length, d, config.vBits, config.groupSize),
      });
    }
    kvLayers.push(heads);
  }
  return {
    kv: { tokens: n, firstPosition: sinkLen, layers: kvLayers },
    rawKeys: out.keys.map((k) => k.subarray(0, n * KV * d)),
    rawValues: out.values.map((v) => v.subarray(0, n * KV * d)),
  };
}
