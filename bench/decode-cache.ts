/**
 * Decode-step time with the repository context held three ways, measured in one run:
 *   plain  — the engine's full-precision plain past (PlainKvCache of sink + N tokens, float32);
 *   kivi   — the compressed block, KIVI layout, dequantized in-graph per layer (kernels/dequantize.ts);
 *   fused  — the compressed block in MatMulNBits layout (kernels/fused-attention.ts).
 * Keys and values are random (key-like outlier channels included) and quantized with the real quantizers; speed
 * does not depend on their content, and positions are only rotary phases, so contexts may exceed the model's
 * trained length. The machine is shared and noisy: the variants run interleaved, a short burst of consecutive
 * steps each per round (a decode runs one graph step after step, with its data warm), and every ratio is the
 * median of per-round ratios.
 *
 * `measureBlockKernels` isolates one layer's attention over the block (dequantize, scores, softmax, P·V) to
 * measure candidate rewrites of the KIVI graph one change at a time, and `measureLayoutQuality` compares the two
 * layouts' fidelity on a real repository (NLL and KL vs full precision, reconstruction error of keys/values).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Command } from 'commander';
import * as ort from 'onnxruntime-node';
import { codeLookupTable } from '../kernels/dequantize';
import { type FusedLayout, fusedBlockContext, fusedBlockInputs, fusedBlockScores } from '../kernels/fused-attention';
import { GraphBuilder } from '../kernels/graph-builder';
import { TensorDataType } from '../kernels/onnx-proto';
import { type Bits, type CacheConfig, DEFAULT_CACHE_CONFIG } from '../src/cache/cache-config';
import { assembleFusedBlock, type FusedRepositoryBlock } from '../src/cache/fused/block';
import { dequantizeFusedKeys, dequantizeFusedValues } from '../src/cache/fused/quantize';
import {
  compressSegmentFused,
  type FusedQuantConfig,
  type FusedSegmentKv,
  fusedSegmentBytes,
  quantizeFusedHead,
} from '../src/cache/fused/segment';
import { accumulateMaxAbs, calibrateKeySmoothing, KeySmoothing, residualMaxAbs } from '../src/cache/fused/smoothing';
import { dequantizeKeys, dequantizeValues, quantizeKeys, quantizeValues, relativeError } from '../src/cache/quantize';
import { syntheticBlock } from '../src/cache/quantize/synthetic';
import { type QueryContext, targetLogits } from '../src/cache/query-context';
import { assembleRepositoryBlock, type RepositoryBlock } from '../src/cache/repository-block';
import { CacheRuntime } from '../src/cache/runtime';
import { compressSegment, gatherHead, scoreSegment } from '../src/cache/segment-prefill';
import { type SegmentKv, segmentBytes } from '../src/cache/segment-kv';
import { DecoderSession } from '../src/engine/decoder-session';
import { Engine } from '../src/engine/engine';
import { f16BitsToF32 } from '../src/engine/safetensors';
import { PlainKvCache } from '../src/engine/kv-cache';
import { resolveConfig } from '../src/eval/configs';
import { klDivergence, mean, nllFromLogits } from '../src/eval/metrics';
import { scanWorkspace } from '../src/syntax';
import { median } from './stats';

export interface DecodeCacheOptions {
  contexts: number[];
  /** Measured rounds (each runs a burst of decode steps of every variant). */
  steps: number;
  /** Consecutive steps of one variant per round (the first is not counted). */
  burst: number;
  bits: 2 | 4 | 8;
  /** KIVI group (tokens per key group, channels per value group). */
  groupSize: number;
  /** Fused layout: channels per key block, tokens per value block. */
  keyBlock: number;
  valueBlock: number;
  /** Fused layout: center keys over value blocks (quantize.ts). */
  centerKeys: boolean;
  /** Tokens per synthetic segment (the default maxSegmentTokens). */
  segmentTokens: number;
  /** Intra-op threads of every session (default: onnxruntime's, as the engine runs). */
  threads?: number;
  log?: (line: string) => void;
}

export const VARIANTS = ['plain', 'kivi', 'fused'] as const;
export type Variant = (typeof VARIANTS)[number];

export interface DecodeCacheRow {
  contextTokens: number;
  /** Median decode-step milliseconds per variant. */
  ms: Record<Variant, number>;
  /** Medians of per-round ratios. */
  kiviVsPlain: number;
  fusedVsPlain: number;
  fusedVsKivi: number;
  /** Bytes the context occupies as graph inputs: float32 past, KIVI block, fused block (float32 statistics). */
  bytes: Record<Variant, number>;
  /** Bytes stored per original token (codes + fp16 statistics; plain: fp16 reference). */
  storedBytesPerToken: Record<Variant, number>;
  fusedCapacity: number;
}

const SINK_TOKENS = 4;
/** Distinct synthetic segments per context; longer contexts repeat them (content does not change speed). */
const DISTINCT_SEGMENTS = 8;

function keyLike(tokens: number, d: number, seed: number): Float32Array {
  // Two outlier channels (and their rotary partners) with Qwen-like offsets, over a Gaussian bulk.
  return syntheticBlock(tokens, d, seed, { outlierChannels: [3, 3 + d / 2, 17, 17 + d / 2] });
}

interface SyntheticContext {
  kivi: SegmentKv[];
  fused: FusedSegmentKv[];
  smoothing: KeySmoothing;
}

function syntheticSegments(engine: Engine, tokens: number, opts: DecodeCacheOptions): SyntheticContext {
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

function plainPast(engine: Engine, tokens: number): PlainKvCache {
  const { numLayers, numKvHeads: KV, headDim: d } = engine.config;
  const cache = new PlainKvCache(numLayers, KV * d, tokens + 1);
  const chunk = 4096;
  for (let at = 0; at < tokens; at += chunk) {
    const t = Math.min(chunk, tokens - at);
    const layers = Array.from({ length: numLayers }, (_, l) => syntheticBlock(t * KV, d, 11 + at + l));
    cache.append(layers, layers, t);
  }
  return cache;
}

async function kiviSession(engine: Engine, opts: DecodeCacheOptions): Promise<DecoderSession> {
  const layers = engine.config.numLayers;
  return DecoderSession.create(engine.checkpoint, {
    provider: 'cpu',
    cacheDir: engine.cacheDir,
    threads: opts.threads,
    variant: {
      exposeHiddenStates: false,
      compressed: {
        keyBits: Array(layers).fill(opts.bits),
        valueBits: Array(layers).fill(opts.bits),
        keyGroup: opts.groupSize,
        valueGroup: Math.min(opts.groupSize, engine.config.headDim),
        rotateKeys: false,
      },
    },
  });
}

async function fusedSession(
  engine: Engine,
  quant: FusedQuantConfig,
  capacity: number[],
  threads?: number,
): Promise<DecoderSession> {
  return DecoderSession.create(engine.checkpoint, {
    provider: 'cpu',
    cacheDir: engine.cacheDir,
    threads,
    variant: {
      exposeHiddenStates: false,
      fused: {
        keyBits: quant.keyBits,
        valueBits: quant.keyBits.map(() => quant.valueBits),
        keyBlock: quant.keyBlock,
        valueBlock: quant.valueBlock,
        capacity,
        centerKeys: quant.centerKeys,
      },
    },
  });
}

function fusedQuant(
  keyBits: Bits[],
  opts: Pick<DecodeCacheOptions, 'bits' | 'keyBlock' | 'valueBlock' | 'centerKeys'>,
): FusedQuantConfig {
  const { bits, keyBlock, valueBlock, centerKeys } = opts;
  return { keyBits, valueBits: bits, keyBlock, valueBlock, centerKeys };
}

const apeFeed = () => ({ ape_inverse_temperature: new ort.Tensor('float32', Float32Array.of(1), [1]) });

export async function measureDecodeCache(engine: Engine, opts: DecodeCacheOptions): Promise<DecodeCacheRow[]> {
  const { numLayers, numKvHeads: KV, headDim: d } = engine.config;
  const log = opts.log ?? (() => {});
  const kivi = await kiviSession(engine, opts);
  const sink = plainPast(engine, SINK_TOKENS);
  const rows: DecodeCacheRow[] = [];
  for (const n of opts.contexts) {
    log(`context ${n}: quantizing synthetic segments`);
    const ctx = syntheticSegments(engine, n, opts);
    const shape = { numLayers, numKvHeads: KV, headDim: d };
    const kiviBlock = assembleRepositoryBlock(ctx.kivi, {
      ...shape,
      keyBits: Array(numLayers).fill(opts.bits),
      valueBits: opts.bits,
      keyGroup: opts.groupSize,
      valueGroup: Math.min(opts.groupSize, d),
    });
    const quant = fusedQuant(Array(numLayers).fill(opts.bits), opts);
    const fusedBlock = assembleFusedBlock(ctx.fused, { ...shape, ...quant }, ctx.smoothing);
    log(`context ${n}: building the fused graph for capacity ${fusedBlock.capacity[0]}`);
    const fused = await fusedSession(engine, quant, fusedBlock.capacity, opts.threads);
    const plain = plainPast(engine, SINK_TOKENS + n);
    const firstPosition = SINK_TOKENS + opts.segmentTokens;
    const step: Record<Variant, () => Promise<unknown>> = {
      plain: () => engine.session.forward({ ids: [42], positions: [plain.length], past: plain, logitIndex: [0] }),
      kivi: () =>
        kivi.forward({
          ids: [42],
          positions: [firstPosition],
          past: sink,
          logitIndex: [0],
          extraFeeds: { ...kiviBlock.feeds, ...apeFeed() },
        }),
      fused: () =>
        fused.forward({
          ids: [42],
          positions: [firstPosition],
          past: sink,
          logitIndex: [0],
          extraFeeds: { ...fusedBlock.feeds, ...apeFeed() },
        }),
    };
    for (const v of VARIANTS) for (let i = 0; i < 2; i++) await step[v](); // warm-up
    const times: Record<Variant, number[]> = { plain: [], kivi: [], fused: [] };
    for (let round = 0; round < opts.steps; round++) {
      // Rotate the order so no variant always runs right after another's allocations. Each variant runs a burst
      // of consecutive steps, as a real decode does, and the round keeps the median of all but the first (which
      // pays for caches the other variants evicted).
      for (let j = 0; j < VARIANTS.length; j++) {
        const v = VARIANTS[(round + j) % VARIANTS.length]!;
        const burst: number[] = [];
        for (let b = 0; b < Math.max(1, opts.burst); b++) {
          const t = performance.now();
          await step[v]();
          burst.push(performance.now() - t);
        }
        times[v].push(median(burst.length > 1 ? burst.slice(1) : burst));
      }
    }
    await fused.release();
    const ratio = (a: Variant, b: Variant) => median(times[a].map((t, i) => t / times[b][i]!));
    const tokensStored = ctx.kivi.length * opts.segmentTokens;
    const stored = (bytes: number) => bytes / tokensStored;
    const kiviStored = ctx.kivi.reduce((s, seg) => s + segmentBytes(seg), 0);
    const fusedStored = ctx.fused.reduce((s, seg) => s + fusedSegmentBytes(seg), 0);
    rows.push({
      contextTokens: n,
      ms: { plain: median(times.plain), kivi: median(times.kivi), fused: median(times.fused) },
      kiviVsPlain: ratio('kivi', 'plain'),
      fusedVsPlain: ratio('fused', 'plain'),
      fusedVsKivi: ratio('fused', 'kivi'),
      bytes: { plain: plain.bytes, kivi: kiviBlock.bytes, fused: fusedBlock.bytes },
      storedBytesPerToken: {
        plain: 2 * numLayers * KV * d * 2,
        kivi: stored(kiviStored),
        fused: stored(fusedStored),
      },
      fusedCapacity: fusedBlock.capacity[0]!,
    });
    log(`context ${n}: ${JSON.stringify(rows[rows.length - 1]!.ms)}`);
  }
  await kivi.release();
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------
// One layer's attention over the block, KIVI variants side by side (task: make the unfused path faster).

export const KERNEL_VARIANTS = [
  'fp32-raw',
  'kivi-current',
  'kivi-f32-stats',
  'kivi-bitshift',
  'kivi-no-transpose',
  'kivi-folded',
  'fused-nbits',
] as const;
export type KernelVariant = (typeof KERNEL_VARIANTS)[number];

export interface KernelRow {
  contextTokens: number;
  ms: Record<KernelVariant, number>;
  /** Median per-round ratio to `fp32-raw` (the same attention over float32 keys/values). */
  vsRaw: Record<KernelVariant, number>;
}

/**
 * Builds a graph of one layer's block attention for a decode step: queries [KV, G, 1, d] (1/√d applied) →
 * context [KV, G, 1, d], with the block given in the variant's layout. G, KV and d are the model's.
 */
function blockKernelGraph(
  variant: KernelVariant,
  dims: {
    KV: number;
    G: number;
    d: number;
    sc: number;
    bits: 2 | 4 | 8;
    group: number;
    /** The fused layout, of which layer 0 is built. */
    layout: FusedLayout;
  },
): GraphBuilder {
  const { KV, G, d, sc, bits, group } = dims;
  const { FLOAT, FLOAT16, UINT8, INT32 } = TensorDataType;
  const g = new GraphBuilder(`block-${variant}`);
  const queries = g.input('queries', FLOAT, [KV, G, 1, d]);
  const bias = g.input('bias', FLOAT, [KV, 1, 1, sc]);
  const row = (d * bits) / 8;
  const perByte = 8 / bits;
  const softmaxContext = (scores: string, values: (probs: string) => string) => {
    const probs = g.op('Softmax', [g.op('Add', [scores, bias])], { axis: -1 });
    g.output('context', values(probs), FLOAT, [KV, G, 1, d]);
  };
  if (variant === 'fp32-raw') {
    const keys = g.input('keys', FLOAT, [KV, sc, d]);
    const values = g.input('values', FLOAT, [KV, sc, d]);
    const keysT = g.op('Unsqueeze', [g.op('Transpose', [keys], { perm: [0, 2, 1] }), g.ints([1])]);
    softmaxContext(g.op('MatMul', [queries, keysT]), (p) =>
      g.op('MatMul', [p, g.op('Unsqueeze', [values, g.ints([1])])]),
    );
    return g;
  }
  if (variant === 'fused-nbits') {
    // The production subgraph (kernels/fused-attention.ts) over layer 0's inputs.
    const block = fusedBlockInputs(g, 0, dims.layout, g.scalar(1), KV);
    const shape = { numHeads: KV * G, numKvHeads: KV, headDim: d };
    softmaxContext(fusedBlockScores(g, shape, queries, block), (p) => fusedBlockContext(g, shape, p, block));
    return g;
  }
  const statsType = variant === 'kivi-current' || variant === 'kivi-bitshift' ? FLOAT16 : FLOAT;
  const keyCodes = g.input('key_codes', UINT8, [KV, sc, row]);
  const keyMin = g.input('key_min', statsType, [KV, sc / group, d]);
  const keyScale = g.input('key_scale', statsType, [KV, sc / group, d]);
  const valueCodes = g.input('value_codes', UINT8, [KV, sc, row]);
  const valueMin = g.input('value_min', statsType, [KV, sc, d / group]);
  const valueScale = g.input('value_scale', statsType, [KV, sc, d / group]);
  const f32 = (x: string) => (statsType === FLOAT16 ? g.op('Cast', [x], { to: FLOAT }) : x);
  const unpack = (codes: string) => {
    if (variant === 'kivi-bitshift') {
      // codes [KV, sc, row, 1] >> [0, b, 2b, ..] & mask: uint8 throughout, one Cast to float at the end.
      const u8 = (values: number[], dims: number[]) => g.op('Cast', [g.constant(values, INT32, dims)], { to: UINT8 });
      const shifts = u8(
        Array.from({ length: perByte }, (_, i) => i * bits),
        [perByte],
      );
      const shifted = g.op('BitShift', [g.op('Unsqueeze', [codes, g.ints([3])]), shifts], { direction: 'RIGHT' });
      const masked = g.op('BitwiseAnd', [shifted, u8([(1 << bits) - 1], [])]);
      return g.op('Reshape', [g.op('Cast', [masked], { to: FLOAT }), g.ints([KV, -1, d])]);
    }
    const table = g.constant(codeLookupTable(bits), FLOAT, [256, perByte]);
    const unpacked = g.op('Gather', [table, g.op('Cast', [codes], { to: INT32 })], { axis: 0 });
    return g.op('Reshape', [unpacked, g.ints([KV, -1, d])]);
  };
  if (variant === 'kivi-folded') {
    // Keys: q·k̂ = Σ_c (q_c·scale_gc)·code_tc + Σ_c q_c·min_gc, so fold the group's scales into the queries and
    // multiply raw codes: no full-size Mul/Add. Codes [KV, groups, gs, d] · (q⊙scale)ᵀ [KV, groups, d, G].
    const codes = g.op('Reshape', [unpack(keyCodes), g.ints([KV, sc / group, group, d])]);
    const q = g.op('Reshape', [queries, g.ints([KV, 1, G, d])]);
    const qScaled = g.op('Transpose', [g.op('Mul', [q, g.op('Unsqueeze', [f32(keyScale), g.ints([2])])])], {
      perm: [0, 1, 3, 2],
    }); // [KV, groups, d, G]
    const partial = g.op('MatMul', [codes, qScaled]); // [KV, groups, gs, G]
    const offset = g.op('ReduceSum', [g.op('Mul', [q, g.op('Unsqueeze', [f32(keyMin), g.ints([2])])]), g.ints([3])], {
      keepdims: 0,
    }); // [KV, groups, G]
    const scoresT = g.op('Add', [partial, g.op('Unsqueeze', [offset, g.ints([2])])]); // [KV, groups, gs, G]
    const scores = g.op('Reshape', [g.op('Transpose', [scoresT], { perm: [0, 3, 1, 2] }), g.ints([KV, G, 1, sc])]);
    // Values: Σ_t p_t·v̂_tc = Σ_t (p_t·scale_tj)·code_tc + Σ_t p_t·min_tj for the channel group j of c. One
    // MatMul of all d/g scaled probability rows with the untransposed codes, then keep each group's own channels.
    const J = d / group;
    softmaxContext(scores, (p) => {
      const pt = g.op('Reshape', [p, g.ints([KV, G, sc, 1])]);
      const pScaled = g.op('Mul', [pt, g.op('Unsqueeze', [f32(valueScale), g.ints([1])])]); // [KV, G, sc, J]
      const pMin = g.op(
        'ReduceSum',
        [g.op('Mul', [pt, g.op('Unsqueeze', [f32(valueMin), g.ints([1])])]), g.ints([2])],
        {
          keepdims: 0,
        },
      ); // [KV, G, J]
      const rows = g.op('Reshape', [g.op('Transpose', [pScaled], { perm: [0, 1, 3, 2] }), g.ints([KV, G * J, sc])]);
      const all = g.op('MatMul', [rows, unpack(valueCodes)]); // [KV, G·J, d]: every row against every channel
      const eye = g.constant(
        Array.from({ length: J * J }, (_, i) => (Math.floor(i / J) === i % J ? 1 : 0)),
        FLOAT,
        [J, J, 1],
      );
      const own = g.op(
        'ReduceSum',
        [g.op('Mul', [g.op('Reshape', [all, g.ints([KV, G, J, J, group])]), eye]), g.ints([2])],
        {
          keepdims: 0,
        },
      ); // [KV, G, J, group]
      const withMin = g.op('Add', [own, g.op('Unsqueeze', [pMin, g.ints([3])])]);
      return g.op('Reshape', [withMin, g.ints([KV, G, 1, d])]);
    });
    return g;
  }
  const keysDeq = g.op('Reshape', [
    g.op('Add', [
      g.op('Mul', [
        g.op('Reshape', [unpack(keyCodes), g.ints([KV, -1, group, d])]),
        g.op('Unsqueeze', [f32(keyScale), g.ints([2])]),
      ]),
      g.op('Unsqueeze', [f32(keyMin), g.ints([2])]),
    ]),
    g.ints([KV, -1, d]),
  ]);
  const valuesDeq = g.op('Reshape', [
    g.op('Add', [
      g.op('Mul', [
        g.op('Reshape', [unpack(valueCodes), g.ints([KV, -1, d / group, group])]),
        g.op('Unsqueeze', [f32(valueScale), g.ints([3])]),
      ]),
      g.op('Unsqueeze', [f32(valueMin), g.ints([3])]),
    ]),
    g.ints([KV, -1, d]),
  ]);
  const scores =
    variant === 'kivi-no-transpose'
      ? // K̂·qᵀ [KV, sc, G] then transpose the small result, instead of transposing the block.
        g.op('Reshape', [
          g.op(
            'Transpose',
            [
              g.op('MatMul', [
                keysDeq,
                g.op('Transpose', [g.op('Reshape', [queries, g.ints([KV, G, d])])], { perm: [0, 2, 1] }),
              ]),
            ],
            { perm: [0, 2, 1] },
          ),
          g.ints([KV, G, 1, sc]),
        ])
      : g.op('MatMul', [queries, g.op('Unsqueeze', [g.op('Transpose', [keysDeq], { perm: [0, 2, 1] }), g.ints([1])])]);
  softmaxContext(scores, (p) => g.op('MatMul', [p, g.op('Unsqueeze', [valuesDeq, g.ints([1])])]));
  return g;
}

function kernelFeeds(
  variant: KernelVariant,
  kivi: RepositoryBlock,
  fused: FusedRepositoryBlock,
  raw: { keys: Float32Array; values: Float32Array },
  dims: { KV: number; G: number; d: number; sc: number },
): Record<string, ort.Tensor> {
  const { KV, G, d, sc } = dims;
  const feeds: Record<string, ort.Tensor> = {
    queries: new ort.Tensor('float32', syntheticBlock(KV * G, d, 5), [KV, G, 1, d]),
    bias: new ort.Tensor('float32', new Float32Array(KV * sc), [KV, 1, 1, sc]),
  };
  const f = kivi.feeds;
  if (variant === 'fp32-raw') {
    feeds.keys = new ort.Tensor('float32', raw.keys, [KV, sc, d]);
    feeds.values = new ort.Tensor('float32', raw.values, [KV, sc, d]);
  } else if (variant === 'fused-nbits') {
    for (const [name, t] of Object.entries(fused.feeds)) if (name.split('.')[1] === '0') feeds[name] = t;
  } else {
    const asF32 = variant !== 'kivi-current' && variant !== 'kivi-bitshift';
    const stat = (t: ort.Tensor) =>
      asF32 ? new ort.Tensor('float32', Float32Array.from(t.data as Uint16Array, f16BitsToF32), t.dims as number[]) : t;
    feeds.key_codes = f['compressed_key_codes.0']!;
    feeds.value_codes = f['compressed_value_codes.0']!;
    feeds.key_min = stat(f['compressed_key_min.0']!);
    feeds.key_scale = stat(f['compressed_key_scale.0']!);
    feeds.value_min = stat(f['compressed_value_min.0']!);
    feeds.value_scale = stat(f['compressed_value_scale.0']!);
  }
  return feeds;
}

export async function measureBlockKernels(
  engine: Engine,
  opts: DecodeCacheOptions & { variants?: KernelVariant[] },
): Promise<KernelRow[]> {
  const { numLayers, numKvHeads: KV, headDim: d, numHeads } = engine.config;
  const G = numHeads / KV;
  const variants = opts.variants ?? [...KERNEL_VARIANTS];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-block-kernels-'));
  const rows: KernelRow[] = [];
  try {
    for (const n of opts.contexts) {
      const ctx = syntheticSegments(engine, n, opts);
      const shape = { numLayers, numKvHeads: KV, headDim: d };
      const kivi = assembleRepositoryBlock(ctx.kivi, {
        ...shape,
        keyBits: Array(numLayers).fill(opts.bits),
        valueBits: opts.bits,
        keyGroup: opts.groupSize,
        valueGroup: Math.min(opts.groupSize, d),
      });
      const quant = fusedQuant(Array(numLayers).fill(opts.bits), opts);
      const fused = assembleFusedBlock(ctx.fused, { ...shape, ...quant }, ctx.smoothing, {
        capacity: Array(numLayers).fill(n),
      });
      const raw = { keys: new Float32Array(KV * n * d), values: new Float32Array(KV * n * d) };
      ctx.kivi.forEach((seg, s) => {
        for (let h = 0; h < KV; h++) {
          raw.keys.set(dequantizeKeys(seg.layers[0]![h]!.keys), (h * n + s * opts.segmentTokens) * d);
          raw.values.set(dequantizeValues(seg.layers[0]![h]!.values), (h * n + s * opts.segmentTokens) * d);
        }
      });
      const dims = {
        KV,
        G,
        d,
        sc: n,
        bits: opts.bits,
        group: opts.groupSize,
        layout: {
          keyBits: quant.keyBits,
          valueBits: quant.keyBits.map(() => quant.valueBits),
          keyBlock: quant.keyBlock,
          valueBlock: quant.valueBlock,
          capacity: fused.capacity,
          centerKeys: quant.centerKeys,
        },
      };
      const runs: { v: KernelVariant; session: ort.InferenceSession; feeds: Record<string, ort.Tensor> }[] = [];
      for (const v of variants) {
        const vdir = path.join(dir, `${v}-${n}`);
        blockKernelGraph(v, dims).save(vdir, {});
        const session = await ort.InferenceSession.create(path.join(vdir, 'model.onnx'), {
          executionProviders: ['cpu'],
          graphOptimizationLevel: 'all',
          ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
        });
        runs.push({ v, session, feeds: kernelFeeds(v, kivi, fused, raw, dims) });
      }
      // Every variant must compute the same context (up to the two layouts' different quantization).
      const outputs = new Map<KernelVariant, Float32Array>();
      for (const r of runs) outputs.set(r.v, (await r.session.run(r.feeds)).context!.data as Float32Array);
      const ref = outputs.get('kivi-current') ?? outputs.values().next().value!;
      for (const [v, out] of outputs) {
        if (v === 'fused-nbits' || v === 'fp32-raw') continue;
        const err = relativeError(ref, out);
        if (err > 1e-4) throw new Error(`block kernel ${v} disagrees with kivi-current (relative error ${err})`);
      }
      const times = new Map<KernelVariant, number[]>(variants.map((v) => [v, []]));
      for (let round = 0; round < opts.steps; round++) {
        for (let j = 0; j < runs.length; j++) {
          const r = runs[(round + j) % runs.length]!;
          const burst: number[] = [];
          for (let b = 0; b < Math.max(1, opts.burst); b++) {
            const t = performance.now();
            await r.session.run(r.feeds);
            burst.push(performance.now() - t);
          }
          times.get(r.v)!.push(median(burst.length > 1 ? burst.slice(1) : burst));
        }
      }
      for (const r of runs) await r.session.release();
      const base = times.get('fp32-raw');
      rows.push({
        contextTokens: n,
        ms: Object.fromEntries(variants.map((v) => [v, median(times.get(v)!)])) as Record<KernelVariant, number>,
        vsRaw: Object.fromEntries(
          variants.map((v) => [v, base ? median(times.get(v)!.map((t, i) => t / base[i]!)) : NaN]),
        ) as Record<KernelVariant, number>,
      });
      opts.log?.(`block kernels ${n}: ${JSON.stringify(rows[rows.length - 1]!.ms)}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------------------------
// Fidelity of the two layouts on a real repository (the long-file protocol of src/eval/long-file.ts).

export interface QualityOptions {
  /** Named eval configurations (src/eval/configs.ts) measured in both layouts, e.g. q2, q2-evict50. */
  configs: string[];
  prefixTokens: number;
  targetTokens: number;
  localTokens: number;
  maxFiles: number;
  keyBlock: number;
  valueBlock: number;
  /** Fused-layout variants: key centering on or off and the smoothing strength α (0 = none). */
  fusedVariants: FusedVariant[];
  base: CacheConfig;
  log?: (line: string) => void;
}

export interface QualityRow {
  name: string;
  layout: 'kivi' | 'fused';
  /** The fused variant (`center α=0.5`, ...), '-' for KIVI. */
  variant: string;
  files: number;
  nll: number;
  klDivergence: number;
  bytesPerToken: number;
  /** Mean over files and heads of the relative Frobenius error per layer (keys in the original space). */
  keyError: number[];
  valueError: number[];
}

export interface QualityReport {
  repo: string;
  files: number;
  fullNll: number;
  rows: QualityRow[];
}

export interface FusedVariant {
  centerKeys: boolean;
  alpha: number;
}

/** `center:0.5,raw:0` → variants. */
export function parseFusedVariants(list: string): FusedVariant[] {
  return list.split(',').map((item) => {
    const [mode, alpha] = item.split(':');
    if ((mode !== 'center' && mode !== 'raw') || !(Number(alpha) >= 0)) {
      throw new Error(`fused variant "${item}": expected center:α or raw:α`);
    }
    return { centerKeys: mode === 'center', alpha: Number(alpha) };
  });
}

const variantLabel = (v: FusedVariant) => `${v.centerKeys ? 'center' : 'raw'} α=${v.alpha}`;

export async function measureLayoutQuality(engine: Engine, repo: string, opts: QualityOptions): Promise<QualityReport> {
  const { numLayers, numKvHeads: KV, headDim: d, vocabSize } = engine.config;
  const log = opts.log ?? (() => {});
  const runtime = await CacheRuntime.create(engine, opts.base, path.basename(repo));
  const smoothings = new Map<string, KeySmoothing>();
  for (const v of opts.fusedVariants) {
    const centerGroup = v.centerKeys ? opts.valueBlock : 0;
    smoothings.set(
      variantLabel(v),
      v.alpha === 0
        ? KeySmoothing.identity(numLayers, KV, d)
        : await calibrateKeySmoothing(engine.session, runtime.sink, (t) => engine.encode(t), v.alpha, centerGroup),
    );
  }
  const full = runtime.derive(resolveConfig('full', opts.base)!.config);
  const named = opts.configs.map((name) => ({ name, runtime: runtime.derive(resolveConfig(name, opts.base)!.config) }));
  const fusedSessions = new Map<string, DecoderSession>();
  const scan = await scanWorkspace(repo);
  const need = opts.prefixTokens + opts.targetTokens;
  type Acc = { row: QualityRow; nll: number[]; kl: number[]; bytes: number; tokens: number; errCount: number };
  const acc = new Map<string, Acc>();
  const accOf = (name: string, layout: 'kivi' | 'fused', variant: string): Acc => {
    const key = `${name}/${layout}/${variant}`;
    if (!acc.has(key)) {
      acc.set(key, {
        row: {
          name,
          layout,
          variant,
          files: 0,
          nll: 0,
          klDivergence: 0,
          bytesPerToken: 0,
          keyError: Array(numLayers).fill(0),
          valueError: Array(numLayers).fill(0),
        },
        nll: [],
        kl: [],
        bytes: 0,
        tokens: 0,
        errCount: 0,
      });
    }
    return acc.get(key)!;
  };
  const fullNll: number[] = [];
  let files = 0;
  try {
    for (const f of [...scan.files].sort((a, b) => a.path.localeCompare(b.path))) {
      if (files >= opts.maxFiles) break;
      const header = engine.encode(runtime.fileHeader(f.path));
      const ids = [...header, ...engine.encode(fs.readFileSync(f.absPath, 'utf8'))];
      if (ids.length < need) continue;
      files++;
      log(`quality ${files}: ${f.path}`);
      const cached = ids.slice(0, opts.prefixTokens - opts.localTokens);
      const local = ids.slice(opts.prefixTokens - opts.localTokens, opts.prefixTokens);
      const target = ids.slice(opts.prefixTokens, need);
      const scored = await scoreSegment(
        { ids: cached, headerTokens: header.length },
        runtime.scoring,
        runtime.sink,
        runtime.probe,
        opts.base.window,
      );
      const logitsOf = (ctx: QueryContext) => targetLogits(ctx, local, target);
      const fullLogits = await logitsOf(await full.queryContext([compressSegment(scored, full.config, full.keyBits)]));
      fullNll.push(mean(nllFromLogits(fullLogits, vocabSize, target)));
      const record = (a: Acc, logits: Float32Array, bytes: number) => {
        a.nll.push(mean(nllFromLogits(logits, vocabSize, target)));
        a.kl.push(mean(klDivergence(fullLogits, logits, vocabSize, target.length)));
        a.bytes += bytes;
        a.tokens += cached.length;
      };
      for (const { name, runtime: rt } of named) {
        const kv = compressSegment(scored, rt.config, rt.keyBits);
        const kiviAcc = accOf(name, 'kivi', '-');
        record(kiviAcc, await logitsOf(await rt.queryContext([kv])), segmentBytes(kv));
        addErrors(
          kiviAcc,
          scored,
          kv.layers.map((heads) => heads.map((hd) => hd.kept)),
          (l, h) => ({
            keys: dequantizeKeys(kv.layers[l]![h]!.keys),
            values: dequantizeValues(kv.layers[l]![h]!.values),
          }),
        );
        for (const v of opts.fusedVariants) {
          const smoothing = smoothings.get(variantLabel(v))!;
          const quant: FusedQuantConfig = {
            keyBits: rt.keyBits,
            valueBits: rt.config.vBits,
            keyBlock: opts.keyBlock,
            valueBlock: opts.valueBlock,
            centerKeys: v.centerKeys,
          };
          const fseg = compressSegmentFused(scored, rt.config, quant, smoothing);
          const block = assembleFusedBlock([fseg], { numLayers, numKvHeads: KV, headDim: d, ...quant }, smoothing, {
            apeScale: rt.config.apeScale,
          });
          const key = JSON.stringify([quant, block.capacity]);
          if (!fusedSessions.has(key)) fusedSessions.set(key, await fusedSession(engine, quant, block.capacity));
          const ctx: QueryContext = {
            session: fusedSessions.get(key)!,
            sink: runtime.sink,
            block,
            firstPosition: runtime.sink.length + scored.shape.tokens,
            apeTemperature: rt.config.apeTemperature,
          };
          const fusedAcc = accOf(name, 'fused', variantLabel(v));
          record(fusedAcc, await logitsOf(ctx), fusedSegmentBytes(fseg));
          addErrors(
            fusedAcc,
            scored,
            fseg.layers.map((heads) => heads.map((hd) => hd.kept)),
            (l, h) => ({
              keys: dequantizeFusedKeys(fseg.layers[l]![h]!.keys, smoothing.forHead(l, h)),
              values: dequantizeFusedValues(fseg.layers[l]![h]!.values),
            }),
          );
        }
      }
    }
  } finally {
    for (const s of fusedSessions.values()) await s.release();
    // Derived runtimes share the base's scoring session: release only their own compressed sessions.
    for (const rt of [...named.map((n) => n.runtime), full]) await (await rt.compressedSession()).release();
    await runtime.dispose();
  }
  if (files === 0) throw new Error(`no file in ${repo} has ${need} tokens`);
  const rows = [...acc.values()].map((a) => ({
    ...a.row,
    files,
    nll: mean(a.nll),
    klDivergence: mean(a.kl),
    bytesPerToken: a.bytes / a.tokens,
    keyError: a.row.keyError.map((e) => e / a.errCount),
    valueError: a.row.valueError.map((e) => e / a.errCount),
  }));
  return { repo: path.basename(repo), files, fullNll: mean(fullNll), rows };

  function addErrors(
    a: Acc,
    scored: Awaited<ReturnType<typeof scoreSegment>>,
    kept: Uint16Array[][],
    dequantized: (l: number, h: number) => { keys: Float32Array; values: Float32Array },
  ): void {
    for (let l = 0; l < numLayers; l++) {
      for (let h = 0; h < KV; h++) {
        const idx = kept[l]![h]!;
        const deq = dequantized(l, h);
        a.row.keyError[l]! += relativeError(gatherHead(scored.rawKeys[l]!, idx, h, KV, d), deq.keys) / KV;
        a.row.valueError[l]! += relativeError(gatherHead(scored.rawValues[l]!, idx, h, KV, d), deq.values) / KV;
      }
    }
    a.errCount++;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// `node dist/bench.js decode-cache`

function fmtMs(n: number): string {
  return n < 10 ? n.toFixed(2) : n.toFixed(1);
}

export function registerDecodeCacheCommand(program: Command): void {
  program
    .command('decode-cache')
    .description('decode step over plain 16-bit past vs 2-bit KIVI block vs 2-bit fused (MatMulNBits) block')
    .option('--model <dir>', 'checkpoint (default: bundled tiny-coder)')
    .option('--contexts <list>', 'context lengths in tokens', '4096,16384,65536')
    .option('--steps <n>', 'measured rounds (a burst of steps of every variant each)', '15')
    .option('--burst <n>', 'consecutive steps per variant and round (the first one is not counted)', '4')
    .option('--bits <n>', 'bits of keys and values (2, 4, 8)', '2')
    .option('--group-size <n>', 'KIVI group size', '32')
    .option('--key-block <n>', 'fused layout: channels per key block', '32')
    .option('--value-block <n>', 'fused layout: tokens per value block', '32')
    .option('--segment-tokens <n>', 'tokens per synthetic segment', '512')
    .option('--threads <n>', "intra-op threads of every session (default: onnxruntime's)")
    .option('--kernels', "also time one layer's block attention under each KIVI graph rewrite")
    .option('--quality <repo>', 'also compare the layouts on a repository (long-file protocol)')
    .option('--quality-configs <list>', 'eval configurations for --quality', 'q2,q2-evict50')
    .option(
      '--fused-variants <list>',
      'fused variants for --quality: center|raw:α',
      'center:0.5,center:0,raw:0.5,raw:0',
    )
    .option('--no-center-keys', 'fused layout without key centering (decode timing)')
    .option('--max-files <n>', 'files for --quality', '20')
    .option('--json', 'print raw JSON')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const num = (k: string) => Number(o[k]);
      const threads = o.threads ? Number(o.threads) : undefined;
      const engine = await Engine.load({ modelDir: o.model as string | undefined, provider: 'cpu', threads });
      const opts: DecodeCacheOptions = {
        contexts: String(o.contexts).split(',').map(Number),
        steps: num('steps'),
        burst: num('burst'),
        bits: num('bits') as 2 | 4 | 8,
        groupSize: num('groupSize'),
        keyBlock: num('keyBlock'),
        valueBlock: num('valueBlock'),
        segmentTokens: num('segmentTokens'),
        centerKeys: o.centerKeys !== false,
        threads,
        log: (l) => console.error(l),
      };
      const result: {
        rows: DecodeCacheRow[];
        kernels?: KernelRow[];
        quality?: QualityReport;
        /** 0 = onnxruntime's default. */
        threads: number;
        cpus: number;
        load: number[];
      } = {
        rows: await measureDecodeCache(engine, opts),
        threads: threads ?? 0,
        cpus: os.availableParallelism(),
        load: os.loadavg(),
      };
      if (o.kernels) result.kernels = await measureBlockKernels(engine, opts);
      if (o.quality) {
        result.quality = await measureLayoutQuality(engine, path.resolve(String(o.quality)), {
          configs: String(o.qualityConfigs).split(','),
          prefixTokens: 768,
          targetTokens: 256,
          localTokens: 32,
          maxFiles: num('maxFiles'),
          keyBlock: opts.keyBlock,
          valueBlock: opts.valueBlock,
          fusedVariants: parseFusedVariants(String(o.fusedVariants)),
          base: DEFAULT_CACHE_CONFIG,
          log: opts.log,
        });
      }
      await engine.dispose();
      if (o.json) {
        console.log(JSON.stringify(result));
        return;
      }
      console.log(
        `decode step, ${opts.bits}-bit blocks (KIVI group ${opts.groupSize}; fused key block ${opts.keyBlock} ` +
          `channels, value block ${opts.valueBlock} tokens); medians of ${opts.steps} interleaved rounds ` +
          `of ${opts.burst} steps per variant (first not counted), ` +
          `${result.cpus} CPUs, ${result.threads || 'default'} intra-op threads, load average ` +
          `${result.load.map((x) => x.toFixed(1)).join(' ')} at the end of the decode rounds\n`,
      );
      console.log(
        '| context | plain ms | KIVI ms | fused ms | KIVI ÷ plain | fused ÷ plain | fused ÷ KIVI | stored B/token plain·KIVI·fused |',
      );
      console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
      for (const r of result.rows) {
        const s = r.storedBytesPerToken;
        console.log(
          `| ${r.contextTokens} | ${fmtMs(r.ms.plain)} | ${fmtMs(r.ms.kivi)} | ${fmtMs(r.ms.fused)} | ` +
            `${r.kiviVsPlain.toFixed(2)} | ${r.fusedVsPlain.toFixed(2)} | ${r.fusedVsKivi.toFixed(2)} | ` +
            `${s.plain} · ${s.kivi.toFixed(1)} · ${s.fused.toFixed(1)} |`,
        );
      }
      if (result.kernels) {
        const vs = result.kernels[0] ? (Object.keys(result.kernels[0].ms) as KernelVariant[]) : [];
        console.log(`\none layer's block attention (decode step), ms (÷ fp32-raw)\n`);
        console.log(`| context | ${vs.join(' | ')} |`);
        console.log(`|---:|${vs.map(() => '---:').join('|')}|`);
        for (const r of result.kernels) {
          console.log(
            `| ${r.contextTokens} | ${vs.map((v) => `${fmtMs(r.ms[v])} (${r.vsRaw[v].toFixed(2)})`).join(' | ')} |`,
          );
        }
      }
      if (result.quality) {
        const q = result.quality;
        console.log(`\nlayout fidelity on ${q.repo}: ${q.files} files, full-precision NLL ${q.fullNll.toFixed(4)}\n`);
        console.log(
          '| config | layout | variant | NLL | KL vs full | bytes/token | key error per layer | value error per layer |',
        );
        console.log('|---|---|---:|---:|---:|---:|---|---|');
        for (const r of q.rows) {
          const errs = (e: number[]) => e.map((x) => x.toFixed(3)).join(' ');
          console.log(
            `| ${r.name} | ${r.layout} | ${r.variant} | ${r.nll.toFixed(4)} | ${r.klDivergence.toFixed(4)} | ` +
              `${r.bytesPerToken.toFixed(1)} | ${errs(r.keyError)} | ${errs(r.valueError)} |`,
          );
        }
      }
    });
}
