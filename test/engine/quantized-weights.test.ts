/**
 * The quantized-weight graph variants on tiny-coder: at accuracy level 0 (float compute) the 4- and 8-bit graphs
 * equal the plain TypeScript reference run with the dequantized weights, within the exact graph's own 1e-4; at
 * level 4 (int8 activations) they stay close to it; the exact path is untouched by the variant; and a quantized
 * engine generates end to end.
 */
import { describe, expect, it } from 'vitest';
import type { WeightFormat } from '../../kernels/quantized-linear';
import { dequantizeBlockwise, quantizeBlockwise } from '../../kernels/weight-quant';
import { loadCheckpoint } from '../../src/engine/checkpoint';
import { causalBias, DecoderSession, EMPTY_PAST } from '../../src/engine/decoder-session';
import { Engine } from '../../src/engine/engine';
import { seededRandom } from '../../src/engine/sampling';
import { defaultWeightBits, parameterCount, weightFormat } from '../../src/engine/weight-bits';
import { TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';
import { referenceForward } from '../reference/qwen2-reference';

const PROJECTIONS = /\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\.weight$/;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const concat = (rows: Float32Array[]) => Float32Array.from(rows.flatMap((r) => Array.from(r)));

async function quantizedVsReference(format: WeightFormat) {
  const checkpoint = loadCheckpoint(TINY_MODEL);
  const c = checkpoint.config;
  const protect = format.protectedLayers ?? 0;
  // The format's policy written out plainly: which bits each tensor gets.
  const bitsOf = (name: string): 4 | 8 | 32 => {
    if (name === 'model.embed_tokens.weight') return format.headBits ?? format.bits;
    const layer = Number(/layers\.(\d+)\./.exec(name)![1]);
    return format.bits === 4 && (layer < protect || layer >= c.numLayers - protect) ? 8 : format.bits;
  };
  const dequantized = (name: string, rows: number) => {
    const w = checkpoint.readTensor(name);
    const bits = bitsOf(name);
    return bits === 32 ? w : dequantizeBlockwise(quantizeBlockwise(w, rows, w.length / rows, bits));
  };
  const lookup = (name: string) => {
    if (!PROJECTIONS.test(name)) return checkpoint.readTensor(name);
    const w = checkpoint.readTensor(name);
    // Every projection's K (its input width) is the row length: hidden, except down_proj and o_proj.
    const k = /down_proj/.test(name) ? c.intermediateSize : /o_proj/.test(name) ? c.numHeads * c.headDim : c.hiddenSize;
    return dequantized(name, w.length / k);
  };
  const session = await DecoderSession.create(checkpoint, {
    provider: 'cpu',
    cacheDir: TEST_CACHE_DIR,
    variant: { exposeHiddenStates: true, weights: format },
  });
  try {
    const random = seededRandom(7);
    const ids = Array.from({ length: 12 }, () => Math.floor(random() * c.vocabSize));
    const ref = referenceForward(c, lookup, ids, { head: dequantized('model.embed_tokens.weight', c.vocabSize) });
    const exact = referenceForward(c, (n) => checkpoint.readTensor(n), ids);
    const out = await session.forward({
      ids,
      positions: ids.map((_, i) => i),
      past: EMPTY_PAST,
      bias: causalBias(ids.length, 0),
      logitIndex: ids.map((_, i) => i),
    });
    return {
      logits: maxAbsDiff(out.logits, concat(ref.logits)),
      keys: maxAbsDiff(out.keys[c.numLayers - 1]!, concat(ref.keys[c.numLayers - 1]!)),
      // How far quantization moves the logits at all: the comparison above must be much tighter than this.
      quantizationEffect: maxAbsDiff(concat(ref.logits), concat(exact.logits)),
    };
  } finally {
    await session.release();
  }
}

describe('quantized weights (tiny-coder)', () => {
  for (const bits of [4, 8] as const) {
    it(`${bits}-bit graph at accuracy level 0 equals the reference with dequantized weights`, async () => {
      const d = await quantizedVsReference({ bits, accuracyLevel: 0 });
      expect(d.logits).toBeLessThan(1e-4);
      expect(d.keys).toBeLessThan(1e-4);
      expect(d.quantizationEffect).toBeGreaterThan(bits === 4 ? 1e-2 : 1e-4);
    });
  }

  it('the default 4-bit format (outer layers and head at 8 bits) equals the reference with that policy', async () => {
    const c = loadCheckpoint(TINY_MODEL).config;
    const format = { ...weightFormat(c, 4, 0)!, protectedLayers: 1 }; // tiny-coder has 4 layers: protect 0 and 3
    expect(format.headBits).toBe(8);
    const d = await quantizedVsReference(format);
    expect(d.logits).toBeLessThan(1e-4);
    expect(d.keys).toBeLessThan(1e-4);
  });

  it('4-bit graph at accuracy level 4 (int8 activations) stays well within the quantization effect', async () => {
    const d = await quantizedVsReference({ bits: 4, accuracyLevel: 4 });
    expect(d.logits).toBeLessThan(d.quantizationEffect / 2);
  });

  it('defaults: exact weights below 100M parameters, 4 bits from there', () => {
    const c = loadCheckpoint(TINY_MODEL).config;
    expect(parameterCount(c)).toBeLessThan(100e6);
    expect(defaultWeightBits(c)).toBe(32);
    expect(weightFormat(c, 'auto')).toBeUndefined();
    expect(weightFormat(c, 32)).toBeUndefined();
    const big = { ...c, hiddenSize: 896, numLayers: 24, intermediateSize: 4864, vocabSize: 151936 };
    expect(defaultWeightBits(big)).toBe(4);
    // The LM head stays at 8 bits on small models (where it is most of the weights), 4 bits from 100M parameters.
    expect(weightFormat(c, 4)!.headBits).toBe(8);
    expect(weightFormat(big, 'auto')!.headBits).toBe(4);
    expect(weightFormat(big, 8)!.headBits).toBe(8);
  });

  it('a 4-bit engine generates end to end', async () => {
    const engine = await Engine.load({
      modelDir: TINY_MODEL,
      provider: 'cpu',
      cacheDir: TEST_CACHE_DIR,
      weightBits: 4,
    });
    try {
      expect(engine.weights.weights?.bits).toBe(4);
      const out = await engine.generateText('def add(a, b):\n', { maxTokens: 8, temperature: 0 });
      expect(out.tokenIds.length).toBeGreaterThan(0);
    } finally {
      await engine.dispose();
    }
  });

  it('the scoring variant with 4-bit weights gives the scorer finite value norms from the same o_proj', async () => {
    const checkpoint = loadCheckpoint(TINY_MODEL);
    const session = await DecoderSession.create(checkpoint, {
      provider: 'cpu',
      cacheDir: TEST_CACHE_DIR,
      variant: { exposeHiddenStates: false, scoringWindow: 4, weights: weightFormat(checkpoint.config, 4) },
    });
    try {
      const ids = [5, 6, 7, 8, 9, 10];
      const out = await session.forward({ ids, positions: [0, 1, 2, 3, 4, 5], past: EMPTY_PAST, logitIndex: [5] });
      const norms = out.outputs['value_norms.0']!;
      expect(norms.length).toBeGreaterThan(0);
      expect(norms.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
    } finally {
      await session.release();
    }
  });
});
