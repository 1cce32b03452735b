/**
 * Attention over a repository block in the fused (MatMulNBits) layout, inside the graph, against the paths
 * test/cache/compressed-attention.test.ts already proves:
 * - 16 bits, nothing evicted: the same logits as the plain cache holding the same keys and values (1e-5);
 * - 2, 4 and 8 bits with eviction (heads keeping different tokens, padded to the graph's capacity): the same
 *   logits as the KIVI graph's 16-bit path fed the TypeScript-dequantized fused keys and values (1e-4), which
 *   proves MatMulNBits reads exactly the layout src/cache/fused writes, the smoothing cancels in q·kᵀ and the
 *   padding is masked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CacheConfig, DEFAULT_CACHE_CONFIG } from '../../src/cache/cache-config';
import { assembleFusedBlock } from '../../src/cache/fused/block';
import { dequantizeFusedKeys, dequantizeFusedValues } from '../../src/cache/fused/quantize';
import { compressSegmentFused, type FusedQuantConfig, type FusedSegmentKv } from '../../src/cache/fused/segment';
import { calibrateKeySmoothing, KeySmoothing } from '../../src/cache/fused/smoothing';
import { quantizeKeys, quantizeValues } from '../../src/cache/quantize';
import { type QueryContext, targetLogits } from '../../src/cache/query-context';
import { assembleRepositoryBlock } from '../../src/cache/repository-block';
import { type ScoredSegment, scoreSegment } from '../../src/cache/segment-prefill';
import type { SegmentKv } from '../../src/cache/segment-kv';
import { prefillSink } from '../../src/cache/sink';
import { DecoderSession } from '../../src/engine/decoder-session';
import { Engine } from '../../src/engine/engine';
import type { PlainKvCache } from '../../src/engine/kv-cache';
import type { GraphVariant } from '../../src/engine/graph-cache';
import { TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

const SEGMENTS = [
  '<|file_sep|>text/utils.py\ndef normalize_whitespace(text):\n    return " ".join(text.split())\n\n\ndef count_words(text):\n    return len(text.split())\n',
  '<|file_sep|>text/stack.py\nclass Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n        self.items.append(item)\n',
];
const LOCAL =
  '<|file_sep|>text/main.py\nfrom text.utils import normalize_whitespace, count_words\n\n\ndef clean(lines):\n    return [';
const TARGET = 'normalize_whitespace(line) for line in lines]\n';

describe('attention over a fused (MatMulNBits) repository block', () => {
  let engine: Engine;
  let scoring: DecoderSession;
  let sink: PlainKvCache;
  let scored: ScoredSegment[];
  let calibrated: KeySmoothing;
  const sessions: DecoderSession[] = [];

  beforeAll(async () => {
    engine = await Engine.load({ modelDir: TINY_MODEL, provider: 'cpu', cacheDir: TEST_CACHE_DIR });
    scoring = await DecoderSession.create(engine.checkpoint, {
      provider: 'cpu',
      cacheDir: TEST_CACHE_DIR,
      variant: { exposeHiddenStates: false, scoringWindow: 32 },
    });
    sink = await prefillSink(engine.session, engine.encode('<|repo_name|>demo/text\n').slice(0, 4));
    scored = [];
    for (const text of SEGMENTS) {
      const ids = engine.encode(text);
      const headerTokens = engine.encode(text.slice(0, text.indexOf('\n') + 1)).length;
      scored.push(await scoreSegment({ ids, headerTokens }, scoring, sink, engine.encode('\n<|file_sep|>'), 32));
    }
    calibrated = await calibrateKeySmoothing(engine.session, sink, (t) => engine.encode(t));
  });
  afterAll(async () => {
    for (const s of sessions) await s.release();
    await scoring?.release();
    await engine?.dispose();
  });

  async function session(variant: GraphVariant): Promise<DecoderSession> {
    const s = await DecoderSession.create(engine.checkpoint, { provider: 'cpu', cacheDir: TEST_CACHE_DIR, variant });
    sessions.push(s);
    return s;
  }

  const firstPosition = 4 + 512;
  const query = (ctx: QueryContext) => targetLogits(ctx, engine.encode(LOCAL), engine.encode(TARGET));
  const context = (s: DecoderSession, block: QueryContext['block']): QueryContext => ({
    session: s,
    sink,
    block,
    firstPosition,
    apeTemperature: 1,
  });

  async function fusedLogits(segments: FusedSegmentKv[], quant: FusedQuantConfig, smoothing: KeySmoothing) {
    const { numLayers, numKvHeads, headDim } = engine.config;
    const shape = { numLayers, numKvHeads, headDim, ...quant };
    const block = assembleFusedBlock(segments, shape, smoothing);
    const { keyBits, valueBits, keyBlock, valueBlock, centerKeys, rotate } = quant;
    const fused = {
      keyBits,
      valueBits: keyBits.map(() => valueBits),
      keyBlock,
      valueBlock,
      capacity: block.capacity,
      centerKeys,
      rotate,
    };
    return query(context(await session({ exposeHiddenStates: false, fused }), block));
  }

  /** The KIVI graph's 16-bit path over the given per-head keys/values (raw float32). */
  async function rawBlockLogits(segments: SegmentKv[]) {
    const { numLayers, numKvHeads, headDim } = engine.config;
    const layout = {
      keyBits: Array(numLayers).fill(16),
      valueBits: 16 as const,
      keyGroup: 32,
      valueGroup: 32,
      rotateKeys: false,
    };
    const block = assembleRepositoryBlock(segments, { numLayers, numKvHeads, headDim, ...layout });
    const compressed = { ...layout, valueBits: Array(numLayers).fill(16) };
    return query(context(await session({ exposeHiddenStates: false, compressed }), block));
  }

  function maxDiff(a: Float32Array, b: Float32Array): number {
    expect(a.length).toBe(b.length);
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
    return m;
  }

  it('16 bits, keep ratio 1: same logits as the plain cache (1e-5)', async () => {
    const config: CacheConfig = { ...DEFAULT_CACHE_CONFIG, keepRatio: 1, eviction: 'none' };
    const quant = q([16, 16, 16, 16], 16, 32, 32);
    const segments = scored.map((s) => compressSegmentFused(s, config, quant, calibrated));
    const cache = sink.clone();
    for (const s of scored) cache.append(s.rawKeys, s.rawValues, s.shape.tokens);
    const local = engine.encode(LOCAL);
    const target = engine.encode(TARGET);
    const ids = [...local, ...target];
    const plain = await engine.session.forward({
      ids,
      positions: ids.map((_, i) => firstPosition + i),
      past: cache,
      logitIndex: target.map((_, i) => local.length - 1 + i),
    });
    expect(maxDiff(await fusedLogits(segments, quant, calibrated), plain.logits)).toBeLessThan(1e-5);
  });

  const cases: { name: string; quant: FusedQuantConfig; smoothing: 'calibrated' | 'identity' }[] = [
    { name: '2 bits, key block 32, value block 32', quant: q([2, 2, 2, 2], 2, 32, 32), smoothing: 'calibrated' },
    { name: '2 bits, no smoothing', quant: q([2, 2, 2, 2], 2, 32, 32), smoothing: 'identity' },
    { name: '2 bits, keys not centered', quant: q([2, 2, 2, 2], 2, 32, 32, false), smoothing: 'calibrated' },
    { name: '4 bits, key block 16, value block 64', quant: q([4, 4, 4, 4], 4, 16, 64), smoothing: 'calibrated' },
    { name: '4 bits, key block 64, value block 16', quant: q([4, 4, 4, 4], 4, 64, 16), smoothing: 'calibrated' },
    {
      name: 'protected layers: keys 16 and 4 bits among 2',
      quant: q([16, 2, 2, 4], 2, 32, 32),
      smoothing: 'calibrated',
    },
    // Hadamard-rotated keys and values: the graph rotates queries and context to match (src/cache/fused/rotation.ts).
    { name: '2 bits, Hadamard rotation', quant: q([2, 2, 2, 2], 2, 32, 64, true, true), smoothing: 'calibrated' },
    { name: '4 bits and 16, Hadamard rotation', quant: q([16, 4, 2, 4], 4, 16, 32, true, true), smoothing: 'identity' },
  ];
  for (const c of cases) {
    it(`${c.name}, with eviction: the graph computes with exactly what the quantizer wrote`, async () => {
      const config: CacheConfig = { ...DEFAULT_CACHE_CONFIG, keepRatio: 0.5 };
      const { numLayers, numKvHeads, headDim: d } = engine.config;
      const smoothing = c.smoothing === 'identity' ? KeySmoothing.identity(numLayers, numKvHeads, d) : calibrated;
      const segments = scored.map((s) => compressSegmentFused(s, config, c.quant, smoothing));
      for (const s of segments) expect(s.layers[0]![0]!.kept.length).toBeLessThan(s.tokens); // evicted some
      const rotated = c.quant.rotate === true;
      const dequantized: SegmentKv[] = segments.map((s) => ({
        tokens: s.tokens,
        firstPosition: s.firstPosition,
        layers: s.layers.map((heads, l) =>
          heads.map((head, h) => {
            const k = head.kept.length;
            return {
              kept: head.kept,
              keys: quantizeKeys(dequantizeFusedKeys(head.keys, smoothing.forHead(l, h), rotated), k, d, 16, 32),
              values: quantizeValues(dequantizeFusedValues(head.values, rotated), k, d, 16, 32),
            };
          }),
        ),
      }));
      const reference = await rawBlockLogits(dequantized);
      expect(maxDiff(await fusedLogits(segments, c.quant, smoothing), reference)).toBeLessThan(1e-4);
    });
  }
});

function q(
  keyBits: CacheConfig['kBits'][],
  valueBits: CacheConfig['vBits'],
  keyBlock: number,
  valueBlock: number,
  centerKeys = true,
  rotate = false,
): FusedQuantConfig {
  return { keyBits, valueBits, keyBlock, valueBlock, centerKeys, rotate };
}
