/**
 * fp16 activations against the exact float32 graph, on the CPU provider. onnxruntime-node 1.30's CPU provider runs
 * the fp16 graph, but computes most fp16 operators in float32 behind Casts of its own (only Gather, Reshape,
 * Transpose, Split, Concat and Unsqueeze run in fp16: BENCHMARKS.md, "fp16 activations for GPU providers"), so two
 * graphs are checked: the real fp16 graph (types, fp16 weights, the boundary, fp16 data movement) and the emulated
 * one ('float16-emulated': every value rounded to fp16 wherever the fp16 graph stores it, arithmetic in float32).
 * fp16 arithmetic inside GPU kernels (accumulation order and width) is not modelled by either.
 *
 * Bound: fp16 keeps 11 significant bits, so the final rounding alone moves a logit of 16 by up to 2⁻¹¹·16 ≈ 0.008,
 * and every layer rounds ~10 intermediate values of relative error 2⁻¹² each. Measured at positions 3000+:
 * max |Δlogit| 0.008–0.014 (fp16) and 0.014–0.036 (emulated) on tiny-coder and coder-15m. The bounds, 0.05 and 0.1,
 * leave room for other inputs and sit far below what a real mistake costs (rotary angles computed in fp16 at
 * these positions: 3.9–8.7, tried).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { activationsFor, withActivations } from '../../src/engine/activations';
import { loadCheckpoint } from '../../src/engine/checkpoint';
import { causalBias, DecoderSession, EMPTY_PAST } from '../../src/engine/decoder-session';
import { Engine } from '../../src/engine/engine';
import { graphKey, type GraphVariant } from '../../src/engine/graph-cache';
import { seededRandom } from '../../src/engine/sampling';
import { CODER_MODEL, TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function logits(model: string, variant: GraphVariant, ids: number[], firstPosition: number) {
  const session = await DecoderSession.create(loadCheckpoint(model), {
    provider: 'cpu',
    cacheDir: TEST_CACHE_DIR,
    variant,
  });
  try {
    const out = await session.forward({
      ids,
      positions: ids.map((_, i) => firstPosition + i),
      past: EMPTY_PAST,
      bias: causalBias(ids.length, 0),
      logitIndex: ids.map((_, i) => i),
    });
    return out.logits;
  } finally {
    await session.release();
  }
}

const BOUND = { float16: 0.05, 'float16-emulated': 0.1 } as const;

describe.each([
  ['tiny-coder', TINY_MODEL],
  ['coder-15m', CODER_MODEL],
])('fp16 activations vs the exact graph (%s, CPU)', (_, model) => {
  const random = seededRandom(11);
  const ids = Array.from({ length: 48 }, () => 10 + Math.floor(random() * 4000));
  const plain: GraphVariant = { exposeHiddenStates: false };

  for (const activations of ['float16', 'float16-emulated'] as const) {
    it(`${activations}: logits within ${BOUND[activations]} at positions past fp16's integer range`, async () => {
      const exact = await logits(model, plain, ids, 3000);
      const half = await logits(model, { ...plain, activations }, ids, 3000);
      const diff = maxAbsDiff(half, exact);
      expect(diff).toBeLessThan(BOUND[activations]);
      // ...and the variant did change the computation (the comparison is not of a graph with itself).
      expect(diff).toBeGreaterThan(1e-4);
    });

    it(`${activations}: the same greedy continuation`, async () => {
      const prompt = 'def fibonacci(n):\n    if n < 2:\n        return n\n';
      const run = async (a: 'float32' | typeof activations) => {
        const engine = await Engine.load({
          modelDir: model,
          provider: 'cpu',
          cacheDir: TEST_CACHE_DIR,
          activations: a,
        });
        try {
          return (await engine.generateText(prompt, { maxTokens: 16, temperature: 0 })).tokenIds;
        } finally {
          await engine.dispose();
        }
      };
      expect(await run(activations)).toEqual(await run('float32'));
    });
  }
});

describe('choosing the activation precision', () => {
  it('auto is float32 on the CPU (the exact graph, its key unchanged) and float16 on GPU providers', async () => {
    const engine = await Engine.load({ modelDir: TINY_MODEL, provider: 'cpu', cacheDir: TEST_CACHE_DIR });
    try {
      expect(engine.session.variant.activations).toBeUndefined();
      expect(engine.weights).toEqual({});
    } finally {
      await engine.dispose();
    }
    const plain: GraphVariant = { exposeHiddenStates: false };
    expect(activationsFor(plain, 'cpu')).toBe(plain);
    expect(activationsFor(plain, 'webgpu').activations).toBe('float16');
    expect(activationsFor(plain, 'cuda').activations).toBe('float16');
    // auto on a GPU opens the very graph an explicit float16 run builds (the GPU session builds them on the CPU).
    const checkpoint = loadCheckpoint(TINY_MODEL);
    const weighted: GraphVariant = { ...plain, weights: { bits: 4, accuracyLevel: 4 } };
    expect(graphKey(checkpoint, activationsFor(weighted, 'webgpu'))).toBe(
      graphKey(checkpoint, withActivations(weighted, 'float16')),
    );
    expect(graphKey(checkpoint, withActivations(weighted, 'float32'))).toBe(graphKey(checkpoint, weighted));
  });

  it('a GPU provider that cannot start costs no fp16 graph build (this machine has no GPU)', async () => {
    if (process.env.REPOKV_EXPECT_GPU) return;
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-fp16-auto-'));
    try {
      for (const provider of ['cuda', 'webgpu'] as const) {
        const engine = await Engine.load({ modelDir: TINY_MODEL, provider, cacheDir, warn: () => {} });
        expect(engine.session.provider).toBe('cpu');
        expect(engine.session.variant.activations).toBeUndefined();
        await engine.dispose();
      }
      const graphs = fs.readdirSync(path.join(cacheDir, 'graphs')).filter((n) => /^[0-9a-f]{24}$/.test(n));
      expect(graphs).toHaveLength(1);
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('an explicit float16 engine passes its precision to the cache graphs it makes', async () => {
    const engine = await Engine.load({
      modelDir: TINY_MODEL,
      provider: 'cpu',
      cacheDir: TEST_CACHE_DIR,
      activations: 'float16',
      weightBits: 4,
    });
    try {
      expect(engine.weights.activations).toBe('float16');
      expect(engine.weights.weights?.bits).toBe(4);
      // 4-bit weights with fp16 activations: MatMulNBits with fp16 scales runs and generates.
      expect((await engine.generateText('int main(', { maxTokens: 4, temperature: 0 })).tokenIds.length).toBe(4);
    } finally {
      await engine.dispose();
    }
  });
});
