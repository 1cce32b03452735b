/**
 * The ONNX path checked layer by layer against the plain TypeScript reference forward pass, on random small
 * checkpoints of each architecture switch (Qwen2 with q/k/v bias and tied head; Llama untied without bias;
 * Llama with attention and MLP biases; GQA 1:1 and 4:1; an explicit head_dim; BF16 and sharded storage) and on the
 * real tiny-coder with random ids. Agreement within 1e-4 on every hidden state, key, value and logit.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/engine/checkpoint';
import { causalBias, DecoderSession, EMPTY_PAST } from '../../src/engine/decoder-session';
import { seededRandom } from '../../src/engine/sampling';
import { type FixtureOptions, makeFixtureCheckpoint } from '../helpers/fixture-checkpoint';
import { TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';
import { referenceForward } from '../reference/qwen2-reference';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const concat = (rows: Float32Array[]) => {
  const out = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
  let o = 0;
  for (const r of rows) {
    out.set(r, o);
    o += r.length;
  }
  return out;
};

async function compare(dir: string, length: number, seed: number, positionOffset = 0) {
  const checkpoint = loadCheckpoint(dir);
  const config = checkpoint.config;
  const session = await DecoderSession.create(checkpoint, {
    provider: 'cpu',
    cacheDir: TEST_CACHE_DIR,
    variant: { exposeHiddenStates: true },
  });
  try {
    const random = seededRandom(seed);
    const ids = Array.from({ length }, () => Math.floor(random() * config.vocabSize));
    const positions = ids.map((_, i) => i + positionOffset);
    const ref = referenceForward(config, (n) => checkpoint.readTensor(n), ids, { positions });
    const out = await session.forward({
      ids,
      positions,
      past: EMPTY_PAST,
      bias: causalBias(length, 0),
      logitIndex: ids.map((_, i) => i),
    });
    for (let layer = 0; layer <= config.numLayers; layer++) {
      expect(maxAbsDiff(out.hidden![layer]!, concat(ref.hidden[layer]!)), `hidden after layer ${layer}`).toBeLessThan(
        1e-4,
      );
    }
    for (let layer = 0; layer < config.numLayers; layer++) {
      expect(maxAbsDiff(out.keys[layer]!, concat(ref.keys[layer]!)), `keys of layer ${layer}`).toBeLessThan(1e-4);
      expect(maxAbsDiff(out.values[layer]!, concat(ref.values[layer]!)), `values of layer ${layer}`).toBeLessThan(1e-4);
    }
    expect(maxAbsDiff(out.logits, concat(ref.logits)), 'logits').toBeLessThan(1e-4);
  } finally {
    await session.release();
  }
}

const fixtures: [string, FixtureOptions][] = [
  ['qwen2, q/k/v bias, tied head, GQA 2:1', { arch: 'qwen2', layers: 2, hidden: 64, heads: 4, kvHeads: 2 }],
  ['llama, untied, no bias, GQA 4:1', { arch: 'llama', layers: 2, hidden: 64, heads: 8, kvHeads: 2, tied: false }],
  [
    'llama with attention and MLP biases, MHA',
    { arch: 'llama', layers: 2, hidden: 48, heads: 3, kvHeads: 3, attentionBias: true, mlpBias: true },
  ],
  ['qwen2 with explicit head_dim', { arch: 'qwen2', layers: 1, hidden: 64, heads: 2, kvHeads: 1, headDim: 16 }],
  [
    'qwen2 stored as BF16 in 3 shards',
    { arch: 'qwen2', layers: 3, hidden: 32, heads: 2, kvHeads: 1, dtype: 'BF16', shards: 3 },
  ],
];

describe('ONNX decoder vs plain TypeScript reference, layer by layer', () => {
  for (const [name, opts] of fixtures) {
    it(name, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-fixture-'));
      makeFixtureCheckpoint(dir, { seed: 11, intermediate: 96, ...opts });
      await compare(dir, 13, 3);
      await compare(dir, 5, 4, 700); // positions far from zero, as segments placed after the sink are
    });
  }

  it('tiny-coder on random ids', async () => {
    await compare(TINY_MODEL, 24, 5);
  });
});
