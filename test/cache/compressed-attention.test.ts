/**
 * Attention over the compressed repository block, inside the graph, against the plain engine:
 * - 16 bits, nothing evicted: the same logits as the plain cache holding the same keys and values (1e-5);
 * - 2, 4 and 8 bits with eviction (heads keeping different tokens): the same logits as the 16-bit path fed the
 *   TypeScript-dequantized kept tokens, which proves the graph unpacks exactly the layout src/cache/quantize
 *   writes and masks each head's padding.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CacheConfig, DEFAULT_CACHE_CONFIG } from '../../src/cache/cache-config';
import { dequantizeKeys, dequantizeValues, quantizeKeys, quantizeValues } from '../../src/cache/quantize';
import { type QueryContext, targetLogits } from '../../src/cache/query-context';
import { assembleRepositoryBlock, type SlotPositions } from '../../src/cache/repository-block';
import { applyRotary } from '../reference/qwen2-reference';
import { compressSegment, scoreSegment } from '../../src/cache/segment-prefill';
import type { SegmentKv } from '../../src/cache/segment-kv';

interface PrefilledSegment {
  kv: SegmentKv;
  rawKeys: Float32Array[];
  rawValues: Float32Array[];
}
import { prefillSink } from '../../src/cache/sink';
import { DecoderSession } from '../../src/engine/decoder-session';
import { Engine } from '../../src/engine/engine';
import { PlainKvCache } from '../../src/engine/kv-cache';
import { TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

const SEGMENTS = [
  '<|file_sep|>text/utils.py\ndef normalize_whitespace(text):\n    return " ".join(text.split())\n\n\ndef count_words(text):\n    return len(text.split())\n',
  '<|file_sep|>text/stack.py\nclass Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n        self.items.append(item)\n',
];
const LOCAL =
  '<|file_sep|>text/main.py\nfrom text.utils import normalize_whitespace, count_words\n\n\ndef clean(lines):\n    return [';
const TARGET = 'normalize_whitespace(line) for line in lines]\n';

describe('attention over the compressed repository block', () => {
  let engine: Engine;
  let scoring: DecoderSession;
  const compressedSessions = new Map<string, DecoderSession>();
  let sink: PlainKvCache;

  beforeAll(async () => {
    engine = await Engine.load({ modelDir: TINY_MODEL, provider: 'cpu', cacheDir: TEST_CACHE_DIR });
    scoring = await DecoderSession.create(engine.checkpoint, {
      provider: 'cpu',
      cacheDir: TEST_CACHE_DIR,
      variant: { exposeHiddenStates: false, scoringWindow: 32 },
    });
    sink = await prefillSink(engine.session, engine.encode('<|repo_name|>demo/text\n').slice(0, 4));
  });
  afterAll(async () => {
    await scoring?.release();
    for (const s of compressedSessions.values()) await s.release();
    await engine?.dispose();
  });

  async function compressedSession(
    bits: CacheConfig['kBits'],
    groupSize: number,
    rotateKeys = false,
  ): Promise<DecoderSession> {
    const key = `${bits}/${groupSize}/${rotateKeys}`;
    if (!compressedSessions.has(key)) {
      const layers = engine.config.numLayers;
      compressedSessions.set(
        key,
        await DecoderSession.create(engine.checkpoint, {
          provider: 'cpu',
          cacheDir: TEST_CACHE_DIR,
          variant: {
            exposeHiddenStates: false,
            compressed: {
              keyBits: Array(layers).fill(bits),
              valueBits: Array(layers).fill(bits),
              keyGroup: groupSize,
              valueGroup: Math.min(groupSize, engine.config.headDim),
              rotateKeys,
            },
          },
        }),
      );
    }
    return compressedSessions.get(key)!;
  }

  /** Each segment scored after the sink and compressed under `config`, with its full-precision keys and values. */
  async function prefillAll(config: CacheConfig): Promise<PrefilledSegment[]> {
    const segments: PrefilledSegment[] = [];
    for (const text of SEGMENTS) {
      const ids = engine.encode(text);
      const headerTokens = engine.encode(text.slice(0, text.indexOf('\n') + 1)).length;
      const scored = await scoreSegment(
        { ids, headerTokens },
        scoring,
        sink,
        engine.encode('\n<|file_sep|>'),
        config.window,
      );
      const keyBits = Array(engine.config.numLayers).fill(config.kBits);
      segments.push({
        kv: compressSegment(scored, config, keyBits),
        rawKeys: scored.rawKeys,
        rawValues: scored.rawValues,
      });
    }
    return segments;
  }

  /** Plain-cache reference: sink, then each head's tokens as given by `rows`, at the same positions. */
  async function plainLogits(
    pastPerSegment: { keys: Float32Array[]; values: Float32Array[]; tokens: number }[],
    firstPosition: number,
  ): Promise<Float32Array> {
    const cache = sink.clone();
    for (const p of pastPerSegment) cache.append(p.keys, p.values, p.tokens);
    const local = engine.encode(LOCAL);
    const target = engine.encode(TARGET);
    const ids = [...local, ...target];
    const out = await engine.session.forward({
      ids,
      positions: ids.map((_, i) => firstPosition + i),
      past: cache,
      logitIndex: target.map((_, i) => local.length - 1 + i),
    });
    return out.logits;
  }

  async function compressedLogits(
    segments: SegmentKv[],
    config: CacheConfig,
    firstPosition: number,
    slotPositions?: SlotPositions,
  ) {
    const { numLayers, numKvHeads, headDim } = engine.config;
    const valueGroup = Math.min(config.groupSize, headDim);
    const block = assembleRepositoryBlock(
      segments,
      {
        numLayers,
        numKvHeads,
        headDim,
        keyBits: Array(numLayers).fill(config.kBits),
        valueBits: config.vBits,
        keyGroup: config.groupSize,
        valueGroup,
      },
      1,
      slotPositions,
    );
    const ctx: QueryContext = {
      session: await compressedSession(config.kBits, config.groupSize, !!slotPositions),
      sink,
      block,
      firstPosition,
      apeTemperature: 1,
    };
    return targetLogits(ctx, engine.encode(LOCAL), engine.encode(TARGET));
  }

  function maxDiff(a: Float32Array, b: Float32Array): number {
    expect(a.length).toBe(b.length);
    let m = 0;
    for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
    return m;
  }

  const firstPosition = 4 + 512;

  it('16 bits, keep ratio 1: same logits as the plain cache (1e-5)', async () => {
    const config: CacheConfig = {
      ...DEFAULT_CACHE_CONFIG,
      kBits: 16,
      vBits: 16,
      keepRatio: 1,
      eviction: 'none',
      preRopeKeys: false,
    };
    const segments = await prefillAll(config);
    const reference = await plainLogits(
      segments.map((s) => ({ keys: s.rawKeys, values: s.rawValues, tokens: s.kv.tokens })),
      firstPosition,
    );
    const compressed = await compressedLogits(
      segments.map((s) => s.kv),
      config,
      firstPosition,
    );
    expect(maxDiff(compressed, reference)).toBeLessThan(1e-5);
  });

  for (const [bits, group] of [
    [2, 32],
    [4, 32],
    [2, 16],
    [8, 64],
  ] as const) {
    it(`${bits} bits, group ${group}, with eviction: the graph dequantizes exactly what the quantizer wrote`, async () => {
      const config: CacheConfig = {
        ...DEFAULT_CACHE_CONFIG,
        kBits: bits,
        vBits: bits,
        groupSize: group,
        keepRatio: 0.5,
        preRopeKeys: false,
      };
      const segments = await prefillAll(config);
      const { headDim: d } = engine.config;
      // Reference: the same kept tokens, dequantized in TypeScript and stored raw (16 bits), through the 16-bit
      // path the first case proves equal to the plain engine. Only the in-graph unpacking differs.
      const dequantized: SegmentKv[] = segments.map((s) => ({
        ...s.kv,
        layers: s.kv.layers.map((heads) =>
          heads.map((head) => ({
            kept: head.kept,
            keys: quantizeKeys(dequantizeKeys(head.keys), head.kept.length, d, 16, group),
            values: quantizeValues(dequantizeValues(head.values), head.kept.length, d, 16, group),
          })),
        ),
      }));
      for (const s of segments) expect(s.kv.layers[0]![0]!.kept.length).toBeLessThan(s.kv.tokens); // evicted some
      const reference = await compressedLogits(dequantized, { ...config, kBits: 16, vBits: 16 }, firstPosition);
      const compressed = await compressedLogits(
        segments.map((s) => s.kv),
        config,
        firstPosition,
      );
      expect(maxDiff(compressed, reference)).toBeLessThan(1e-4);
    });
  }

  const full: CacheConfig = {
    ...DEFAULT_CACHE_CONFIG,
    kBits: 16,
    vBits: 16,
    keepRatio: 1,
    eviction: 'none',
    preRopeKeys: false,
  };

  it('keys stored before rotary and rotated in the graph: same logits as the plain cache (1e-5)', async () => {
    const segments = await prefillAll({ ...full, preRopeKeys: true });
    const reference = await plainLogits(
      segments.map((s) => ({ keys: s.rawKeys, values: s.rawValues, tokens: s.kv.tokens })),
      firstPosition,
    );
    const compressed = await compressedLogits(
      segments.map((s) => s.kv),
      { ...full, preRopeKeys: true },
      firstPosition,
      { mode: 'absolute', segmentStart: segments.map((s) => s.kv.firstPosition) },
    );
    expect(maxDiff(compressed, reference)).toBeLessThan(1e-5);
  });

  it('sequential layout: keys moved by rotation in the graph equal keys rotated in TypeScript (1e-5)', async () => {
    const segments = await prefillAll(full);
    const { numLayers, numKvHeads: KV, headDim: d, ropeTheta } = engine.config;
    const sinkLen = sink.length;
    const starts: number[] = [];
    let next = sinkLen;
    for (const s of segments) {
      starts.push(next);
      next += s.kv.tokens;
    }
    // Reference: each segment's post-rotary keys turned by its move (start − prefill position), token by token.
    const moved = segments.map((s, j) => {
      const delta = starts[j]! - s.kv.firstPosition;
      const keys = s.rawKeys.map((layer) => {
        const out = new Float32Array(layer.length);
        for (let t = 0; t < s.kv.tokens; t++) {
          const row = Float64Array.from(layer.subarray(t * KV * d, (t + 1) * KV * d));
          out.set(applyRotary(row, KV, d, delta, ropeTheta), t * KV * d);
        }
        return out;
      });
      expect(keys).toHaveLength(numLayers);
      return { keys, values: s.rawValues, tokens: s.kv.tokens };
    });
    expect(starts[1]).toBeGreaterThan(segments[1]!.kv.firstPosition); // the second segment really moved
    const reference = await plainLogits(moved, next);
    const compressed = await compressedLogits(
      segments.map((s) => s.kv),
      full,
      next,
      { mode: 'delta', segmentStart: starts },
    );
    expect(maxDiff(compressed, reference)).toBeLessThan(1e-5);
  });
});
