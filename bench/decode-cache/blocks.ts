/**
 * Random repository contexts for the timing benchmarks: synthetic keys and values (key-like outlier channels
 * included) quantized with the real quantizers into KIVI and fused segments, their assembled blocks, and a
 * full-precision plain past. Speed does not depend on the content, and positions are only rotary phases, so
 * contexts may exceed the model's trained length.
 */
import { type Bits } from '../../src/cache/cache-config';
import { type FusedQuantConfig, type FusedSegmentKv, quantizeFusedHead } from '../../src/cache/fused/segment';
import { accumulateMaxAbs, KeySmoothing, residualMaxAbs } from '../../src/cache/fused/smoothing';
import { quantizeKeys, quantizeValues } from '../../src/cache/quantize';
import { syntheticBlock } from '../../src/cache/quantize/synthetic';
import { assembleRepositoryBlock, type RepositoryBlock } from '../../src/cache/repository-block';
import { type SegmentKv } from '../../src/cache/segment-kv';
import { Engine } from '../../src/engine/engine';
import { PlainKvCache } from '../../src/engine/kv-cache';
import { type DecodeCacheOptions } from './options';

export const SINK_TOKENS = 4;
/** Distinct synthetic segments per context; longer contexts repeat them (content does not change speed). */
const DISTINCT_SEGMENTS = 8;

function keyLike(tokens: number, d: number, seed: number): Float32Array {
  // Two outlier channels (and their rotary partners) with Qwen-like offsets, over a Gaussian bulk.
  return syntheticBlock(tokens, d, seed, { outlierChannels: [3, 3 + d / 2, 17, 17 + d / 2] });
}

export interface SyntheticContext {
  kivi: SegmentKv[];
  fused: FusedSegmentKv[];
  smoothing: KeySmoothing;
}

export function fusedQuant(
  keyBits: Bits[],
  opts: Pick<DecodeCacheOptions, 'bits' | 'keyBlock' | 'valueBlock' | 'centerKeys' | 'rotate'>,
): FusedQuantConfig {
  const { bits, keyBlock, valueBlock, centerKeys, rotate } = opts;
  return { keyBits, valueBits: bits, keyBlock, valueBlock, centerKeys, rotate };
}

/** Segments of `opts.segmentTokens` covering `tokens`, in both layouts, with the fused layout's key smoothing. */
export function syntheticSegments(engine: Engine, tokens: number, opts: DecodeCacheOptions): SyntheticContext {
  const { numLayers, numKvHeads: KV, headDim: d } = engine.config;
  const n = opts.segmentTokens;
  const count = Math.ceil(tokens / n);
  const distinct = Math.min(DISTINCT_SEGMENTS, count);
  const raw = Array.from({ length: distinct }, (_, s) =>
    Array.from({ length: numLayers }, (_, l) =>
      Array.from({ length: KV }, (_, h) => ({
        keys: keyLike(n, d, 1 + s * 1000 + l * 10 + h),
        values: syntheticBlock(n, d, 7 + s * 1000 + l * 10 + h),
      })),
    ),
  );
  // The smoothing vector from the data itself (the real one comes from calibration).
  const maxAbs = Array.from({ length: numLayers }, () => new Float32Array(KV * d));
  const centerGroup = opts.centerKeys ? opts.valueBlock : 0;
  for (const seg of raw) {
    for (const [l, heads] of seg.entries()) {
      for (const [h, b] of heads.entries()) {
        accumulateMaxAbs([maxAbs[l]!.subarray(h * d, (h + 1) * d)], [residualMaxAbs(b.keys, n, d, centerGroup)], d);
      }
    }
  }
  const smoothing = KeySmoothing.fromMaxAbs(maxAbs, KV, d, 0.5);
  const kept = Uint16Array.from({ length: n }, (_, i) => i);
  const bits = Array<Bits>(numLayers).fill(opts.bits);
  const quant = fusedQuant(bits, opts);
  const kiviDistinct: SegmentKv[] = raw.map((seg) => ({
    tokens: n,
    firstPosition: SINK_TOKENS,
    layers: seg.map((heads) =>
      heads.map((b) => ({
        kept,
        keys: quantizeKeys(b.keys, n, d, opts.bits, opts.groupSize),
        values: quantizeValues(b.values, n, d, opts.bits, opts.groupSize),
      })),
    ),
  }));
  const fusedDistinct: FusedSegmentKv[] = raw.map((seg) => ({
    layout: 'fused',
    tokens: n,
    firstPosition: SINK_TOKENS,
    layers: seg.map((heads, l) =>
      heads.map((b, h) => quantizeFusedHead(kept, b.keys, b.values, d, l, quant, smoothing.forHead(l, h))),
    ),
  }));
  return {
    kivi: Array.from({ length: count }, (_, i) => kiviDistinct[i % distinct]!),
    fused: Array.from({ length: count }, (_, i) => fusedDistinct[i % distinct]!),
    smoothing,
  };
}

/** The KIVI block of the context's segments, every layer at `opts.bits`. */
export function kiviBlock(engine: Engine, ctx: SyntheticContext, opts: DecodeCacheOptions): RepositoryBlock {
  const { numLayers, numKvHeads, headDim: d } = engine.config;
  return assembleRepositoryBlock(ctx.kivi, {
    numLayers,
    numKvHeads,
    headDim: d,
    keyBits: Array(numLayers).fill(opts.bits),
    valueBits: opts.bits,
    keyGroup: opts.groupSize,
    valueGroup: Math.min(opts.groupSize, d),
  });
}

/** A float32 plain past of `tokens` random tokens. */
export function plainPast(engine: Engine, tokens: number): PlainKvCache {
  const { numLayers, numKvHeads: KV, headDim: d } = engine.config;
  const cache = new PlainKvCache(numLayers, KV, d, tokens + 1);
  const chunk = 4096;
  for (let at = 0; at < tokens; at += chunk) {
    const t = Math.min(chunk, tokens - at);
    const layers = Array.from({ length: numLayers }, (_, l) => syntheticBlock(t * KV, d, 11 + at + l));
    cache.append(layers, layers, t);
  }
  return cache;
}
