/**
 * The contrib-operator graph (SkipSimplifiedLayerNormalization, SimplifiedLayerNormalization, RotaryEmbedding)
 * against the plain-operator reference graph on the same weights, on tiny-coder and coder-15m: every output
 * (logits, present keys and values, the scorer's inputs) within 1e-4, for the plain decoder over a past with an
 * arbitrary bias, the query-time variants with a repository block (compressed with its keys rotated in the graph,
 * and fused), the scoring variant, and with 4-bit weights. Inputs sit at positions in the hundreds and thousands,
 * where a rotary error shows: a control checks that moving the positions by one moves the logits far more.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Tensor } from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import type { OperatorSet } from '../../kernels/decoder-ops';
import { loadCheckpoint } from '../../src/engine/checkpoint';
import type { Checkpoint } from '../../src/engine/checkpoint-types';
import { DecoderSession, type ForwardInput } from '../../src/engine/decoder-session';
import { Engine } from '../../src/engine/engine';
import { ensureDecoderGraph, graphKey, type GraphVariant } from '../../src/engine/graph-cache';
import { checkGraphDir } from '../../src/engine/graph-manifest';
import { chooseOperators, operatorsFor, withOperators } from '../../src/engine/graph-operators';
import { seededRandom } from '../../src/engine/sampling';
import { weightFormat } from '../../src/engine/weight-bits';
import { CODER_MODEL, TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

const TOLERANCE = 1e-4;
const T = 5;
const P = 7;
/** Slots per layer of the repository block (a multiple of the fused layout's value block). */
const SC = 32;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

type VariantName = 'plain' | 'compressed' | 'fused' | 'scoring';

function variantOf(name: VariantName, layers: number): GraphVariant {
  const all = <T>(v: T) => Array<T>(layers).fill(v);
  switch (name) {
    case 'plain':
      return { exposeHiddenStates: true };
    case 'scoring':
      return { exposeHiddenStates: false, scoringWindow: 3 };
    case 'compressed':
      // 16-bit slots: the operator sets differ in the rotation of the block's keys, not in their storage.
      return {
        exposeHiddenStates: false,
        compressed: { keyBits: all(16), valueBits: all(16), keyGroup: 32, valueGroup: 32, rotateKeys: true },
      };
    case 'fused':
      return {
        exposeHiddenStates: false,
        fused: {
          keyBits: all(16),
          valueBits: all(16),
          keyBlock: 32,
          valueBlock: 16,
          capacity: all(SC),
          centerKeys: false,
        },
      };
  }
}

/** One chunk over a random past, with part of the past hidden, at positions 1000+; the block inputs if any. */
function inputs(checkpoint: Checkpoint, name: VariantName, seed: number, positionShift = 0): ForwardInput {
  const { numKvHeads: KV, headDim: d, numLayers, vocabSize } = checkpoint.config;
  const random = seededRandom(seed);
  const floats = (n: number, scale = 1) => Float32Array.from({ length: n }, () => (2 * random() - 1) * scale);
  const pastKeys = Array.from({ length: numLayers }, () => floats(P * KV * d, 2));
  const pastValues = Array.from({ length: numLayers }, () => floats(P * KV * d));
  const bias = new Float32Array(T * (P + T));
  for (let t = 0; t < T; t++) {
    bias[t * (P + T) + 2] = -Infinity; // a past token this chunk may not see (the repository layouts do that)
    for (let j = P + t + 1; j < P + T; j++) bias[t * (P + T) + j] = -Infinity;
  }
  const extraFeeds: Record<string, Tensor> = {};
  const f32 = (n: number, dims: number[], scale = 1) => new Tensor('float32', floats(n, scale), dims);
  const blockBias = () => {
    const b = floats(KV * SC, 0.5);
    b.fill(-Infinity, SC - 5, SC); // padding of head 0
    return new Tensor('float32', b, [KV, SC]);
  };
  if (name === 'compressed' || name === 'fused') extraFeeds['ape_inverse_temperature'] = f32(1, [1], 0.2);
  for (let l = 0; l < numLayers; l++) {
    if (name === 'compressed') {
      extraFeeds[`compressed_key_raw.${l}`] = f32(KV * SC * d, [KV, SC, d], 2);
      extraFeeds[`compressed_value_raw.${l}`] = f32(KV * SC * d, [KV, SC, d]);
      extraFeeds[`compressed_bias.${l}`] = blockBias();
      const positions = BigInt64Array.from({ length: KV * SC }, () => BigInt(Math.floor(random() * 3000)));
      extraFeeds[`compressed_key_position.${l}`] = new Tensor('int64', positions, [KV, SC]);
    }
    if (name === 'fused') {
      for (let h = 0; h < KV; h++) {
        extraFeeds[`fused_key_raw.${l}.${h}`] = f32(SC * d, [SC, d], 2);
        extraFeeds[`fused_value_raw.${l}.${h}`] = f32(SC * d, [SC, d]);
      }
      extraFeeds[`fused_bias.${l}`] = blockBias();
    }
  }
  return {
    ids: Array.from({ length: T }, () => Math.floor(random() * vocabSize)),
    positions: Array.from({ length: T }, (_, i) => 1000 + positionShift + P + i),
    past: {
      length: P,
      capacity: P,
      keysBuffer: (l) => pastKeys[l]!,
      valuesBuffer: (l) => pastValues[l]!,
      compactKeys: (l) => pastKeys[l]!,
      compactValues: (l) => pastValues[l]!,
    },
    bias,
    logitIndex: [0, 2, T - 1],
    extraFeeds,
  };
}

/** The outputs that differ by the tolerance or more (or by NaN), with their differences. */
const outside = (diffs: Record<string, number>) => Object.entries(diffs).filter(([, diff]) => !(diff < TOLERANCE));

const sessions: DecoderSession[] = [];
afterAll(async () => {
  for (const s of sessions) await s.release();
});

async function run(checkpoint: Checkpoint, variant: GraphVariant, input: ForwardInput) {
  const session = await DecoderSession.create(checkpoint, { provider: 'cpu', cacheDir: TEST_CACHE_DIR, variant });
  sessions.push(session);
  return (await session.forward(input)).outputs;
}

/**
 * Largest difference over every output the two operator sets produce, by output name. The value norms (an L1 norm
 * over the hidden size, in the hundreds) are compared relative to their largest value, everything else absolutely.
 */
async function contribVsOnnx(checkpoint: Checkpoint, variant: GraphVariant, input: ForwardInput) {
  const onnx = await run(checkpoint, variant, input);
  const contrib = await run(checkpoint, { ...variant, operators: 'contrib' }, input);
  expect(Object.keys(contrib).sort()).toEqual(Object.keys(onnx).sort());
  const diffs: Record<string, number> = {};
  for (const name of Object.keys(onnx)) {
    const scale = name.startsWith('value_norms.') ? Math.max(...onnx[name]!) : 1;
    diffs[name] = maxAbsDiff(contrib[name]!, onnx[name]!) / scale;
  }
  return { diffs, onnx };
}

for (const [label, dir] of [
  ['tiny-coder', TINY_MODEL],
  ['coder-15m', CODER_MODEL],
] as const) {
  describe(`contrib operators equal plain operators (${label})`, () => {
    const checkpoint = loadCheckpoint(dir);
    const layers = checkpoint.config.numLayers;

    for (const name of ['plain', 'compressed', 'fused', 'scoring'] as const) {
      it(`${name} variant: every output within ${TOLERANCE}`, async () => {
        const { diffs } = await contribVsOnnx(checkpoint, variantOf(name, layers), inputs(checkpoint, name, 11));
        expect(Object.keys(diffs)).toContain(`present_key.${layers - 1}`);
        expect(outside(diffs)).toEqual([]);
      });
    }

    it('control: positions one further move the logits and keys far beyond the tolerance', async () => {
      const variant = variantOf('compressed', layers);
      const at = await run(checkpoint, variant, inputs(checkpoint, 'compressed', 11));
      const moved = await run(checkpoint, variant, inputs(checkpoint, 'compressed', 11, 1));
      expect(maxAbsDiff(at['logits']!, moved['logits']!)).toBeGreaterThan(100 * TOLERANCE);
      expect(maxAbsDiff(at['present_key.0']!, moved['present_key.0']!)).toBeGreaterThan(100 * TOLERANCE);
    });

    it('4-bit weights: contrib and plain operators on the same quantized weights within 1e-4', async () => {
      const weights = weightFormat(checkpoint.config, 4, 0)!;
      const { diffs } = await contribVsOnnx(
        checkpoint,
        { ...variantOf('plain', layers), weights },
        inputs(checkpoint, 'plain', 5),
      );
      expect(outside(diffs)).toEqual([]);
    });
  });
}

describe('the GPU graph (contrib operators with fp16 activations) against the exact graph, on the CPU', () => {
  // The bounds of test/engine/float16-activations.test.ts: fp16 rounding, not the operators, sets them.
  for (const [activations, bound] of [
    ['float16', 0.05],
    ['float16-emulated', 0.1],
  ] as const) {
    for (const [label, dir] of [
      ['tiny-coder', TINY_MODEL],
      ['coder-15m', CODER_MODEL],
    ] as const) {
      it(`${label}, ${activations}: logits within ${bound}, keys within ${bound}`, async () => {
        const checkpoint = loadCheckpoint(dir);
        const input = inputs(checkpoint, 'compressed', 17);
        const plain = variantOf('compressed', checkpoint.config.numLayers);
        const exact = await run(checkpoint, plain, input);
        const gpu = await run(checkpoint, { ...plain, operators: 'contrib', activations }, input);
        expect(maxAbsDiff(gpu['logits']!, exact['logits']!)).toBeLessThan(bound);
        expect(maxAbsDiff(gpu['present_key.0']!, exact['present_key.0']!)).toBeLessThan(bound);
      });
    }
  }
});

describe('which operators a graph gets', () => {
  it('contrib for quantized weights or a GPU provider; the exact CPU graph stays plain', () => {
    const c = loadCheckpoint(TINY_MODEL).config;
    const rule = (bits: 4 | 8 | 32, provider: 'cpu' | 'webgpu' | 'cuda'): OperatorSet =>
      chooseOperators(weightFormat(c, bits), provider);
    expect(rule(32, 'cpu')).toBe('onnx');
    expect(rule(4, 'cpu')).toBe('contrib');
    expect(rule(8, 'cpu')).toBe('contrib');
    expect(rule(32, 'webgpu')).toBe('contrib');
    expect(rule(32, 'cuda')).toBe('contrib');
  });

  it('per provider: a GPU gets the contrib graph, the CPU the plain one under the key it always had', () => {
    const checkpoint = loadCheckpoint(TINY_MODEL);
    const plain = variantOf('plain', 4);
    const key = (v: GraphVariant) => graphKey(checkpoint, v);
    expect(key(operatorsFor(plain, 'webgpu'))).toBe(key(withOperators(plain, 'contrib')));
    expect(key(operatorsFor(plain, 'cpu'))).toBe(key(plain));
    expect(key(operatorsFor({ ...plain, operators: 'contrib' }, 'cpu'))).toBe(key(plain));
    expect(key(withOperators(plain, 'onnx'))).toBe(key(plain));
  });

  it('an engine spreads its choice into every graph it makes: contrib with 4-bit weights, none when exact', async () => {
    for (const [weightBits, expected] of [
      [4, 'contrib'],
      [32, undefined],
    ] as const) {
      const engine = await Engine.load({ modelDir: TINY_MODEL, provider: 'cpu', cacheDir: TEST_CACHE_DIR, weightBits });
      try {
        expect(engine.session.variant.operators).toBe(expected);
        expect(engine.weights.operators).toBe(expected);
      } finally {
        await engine.dispose();
      }
    }
  });

  it('a damaged contrib graph is rebuilt like any other and computes the same logits', async () => {
    const checkpoint = loadCheckpoint(TINY_MODEL);
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-contrib-heal-'));
    try {
      const variant: GraphVariant = { ...variantOf('compressed', 4), operators: 'contrib' };
      const input = inputs(checkpoint, 'compressed', 3);
      const logits = async () => {
        const session = await DecoderSession.create(checkpoint, { provider: 'cpu', cacheDir, variant });
        try {
          return (await session.forward(input)).logits;
        } finally {
          await session.release();
        }
      };
      const before = await logits();
      const dir = path.dirname(ensureDecoderGraph(checkpoint, variant, cacheDir));
      for (const file of ['model.onnx', 'weights.bin']) {
        fs.truncateSync(path.join(dir, file), Math.floor(fs.statSync(path.join(dir, file)).size / 2));
        expect(checkGraphDir(dir)).toMatch(new RegExp(`^${file.replace('.', '\\.')} `));
        expect(await logits()).toEqual(before);
        expect(checkGraphDir(dir, true)).toBeNull();
      }
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('the contrib graph holds the fused operators and the plain graph none of them', () => {
    const checkpoint = loadCheckpoint(TINY_MODEL);
    const text = (variant: GraphVariant) =>
      fs.readFileSync(ensureDecoderGraph(checkpoint, variant, TEST_CACHE_DIR)).toString('latin1');
    const contrib = text({ ...variantOf('compressed', 4), operators: 'contrib' });
    const plain = text(variantOf('compressed', 4));
    for (const op of ['SkipSimplifiedLayerNormalization', 'SimplifiedLayerNormalization', 'RotaryEmbedding']) {
      expect(contrib).toContain(op);
      expect(plain).not.toContain(op);
    }
  });
});
