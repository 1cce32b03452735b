import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../src/engine/checkpoint';
import type { Checkpoint } from '../../src/engine/checkpoint-types';
import { makeFixtureCheckpoint } from '../helpers/fixture-checkpoint';
import { referenceForward, type WeightLookup } from '../reference/qwen2-reference';

interface GoldenPrompt {
  name: string;
  ids: number[];
  top10: { position: number; ids: number[]; values: number[] }[];
  last_logits: number[];
  greedy: { ids: number[] };
}
const golden = JSON.parse(readFileSync('models/tiny-coder/golden.json', 'utf8')) as { prompts: GoldenPrompt[] };

/** Caches tensors: the reference asks for each weight once per call. */
function weightsOf(ckpt: Checkpoint): WeightLookup {
  const cache = new Map<string, Float32Array>();
  return (name) => {
    let t = cache.get(name);
    if (!t) cache.set(name, (t = ckpt.readTensor(name)));
    return t;
  };
}

const argmax = (x: Float32Array): number => x.reduce((best, v, i) => (v > x[best] ? i : best), 0);
const topK = (x: Float32Array, k: number): number[] =>
  Array.from(x.keys())
    .sort((a, b) => x[b] - x[a] || a - b)
    .slice(0, k);
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('reference forward on tiny-coder vs golden.json', () => {
  let ckpt: Checkpoint;
  let weights: WeightLookup;
  beforeAll(() => {
    ckpt = loadCheckpoint('models/tiny-coder');
    weights = weightsOf(ckpt);
  });

  // The 1061-token prompt takes ~15 s here; still worth it (long-range rotary angles).
  for (const prompt of golden.prompts) {
    it(`${prompt.name} (${prompt.ids.length} tokens): top-10 and last-position logits`, () => {
      const { logits } = referenceForward(ckpt.config, weights, prompt.ids);
      expect(logits).toHaveLength(prompt.ids.length);
      for (const rec of prompt.top10) {
        const row = logits[rec.position];
        expect(topK(row, 10)).toEqual(rec.ids);
        expect(
          maxAbsDiff(
            rec.ids.map((id) => row[id]),
            rec.values,
          ),
        ).toBeLessThan(1e-3);
      }
      expect(maxAbsDiff(logits[prompt.ids.length - 1], prompt.last_logits)).toBeLessThan(1e-3);
    });
  }

  it('greedy: 8 steps from scratch match the golden continuation', () => {
    const prompt = golden.prompts.find((p) => p.name === 'plain_python') ?? golden.prompts[0];
    const ids = [...prompt.ids];
    for (let step = 0; step < 8; step++) {
      const { logits } = referenceForward(ckpt.config, weights, ids);
      ids.push(argmax(logits[ids.length - 1]));
    }
    expect(ids.slice(prompt.ids.length)).toEqual(prompt.greedy.ids.slice(0, 8));
  });
});

/** HF's vector form, written independently: x * cat(cos, cos) + cat(-x2, x1) * cat(sin, sin), per head. */
function hfRotary(x: Float32Array, heads: number, hd: number, pos: number, theta: number): number[] {
  const invFreq = Array.from({ length: hd / 2 }, (_, i) => 1 / theta ** ((2 * i) / hd));
  const angles = [...invFreq, ...invFreq].map((f) => pos * f);
  const out: number[] = [];
  for (let h = 0; h < heads; h++) {
    const head = Array.from(x.subarray(h * hd, (h + 1) * hd));
    const rotated = [...head.slice(hd / 2).map((v) => -v), ...head.slice(0, hd / 2)];
    head.forEach((v, i) => out.push(v * Math.cos(angles[i]) + rotated[i] * Math.sin(angles[i])));
  }
  return out;
}

const fixtures = [
  { arch: 'llama' as const, tied: false, bias: false },
  { arch: 'llama' as const, tied: false, bias: true }, // attention_bias (q/k/v/o) and mlp_bias
  { arch: 'qwen2' as const, tied: true, bias: true }, // q/k/v biases only
];
describe.each(fixtures)(
  'reference forward on a random $arch fixture (tied: $tied, bias: $bias)',
  ({ arch, tied, bias }) => {
    let dir: string;
    let ckpt: Checkpoint;
    let weights: WeightLookup;
    const ids = [3, 17, 5, 42, 8, 0, 63];
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), `repokv-ref-${arch}-`));
      const shape = { layers: 2, hidden: 64, heads: 4, kvHeads: 2, seed: 7 };
      makeFixtureCheckpoint(dir, {
        arch,
        tied,
        ...shape,
        ...(arch === 'llama' ? { attentionBias: bias, mlpBias: bias } : {}),
      });
      ckpt = loadCheckpoint(dir);
      weights = weightsOf(ckpt);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('has the documented shapes and finite values', () => {
      const c = ckpt.config;
      expect(c.tieWordEmbeddings).toBe(tied);
      expect(c.attentionBias).toBe(bias);
      expect(c.mlpBias).toBe(arch === 'llama' && bias);
      const r = referenceForward(c, weights, ids);
      const kvWidth = c.numKvHeads * c.headDim;
      expect(r.logits).toHaveLength(ids.length);
      expect(r.hidden).toHaveLength(c.numLayers + 1);
      expect(r.keys).toHaveLength(c.numLayers);
      expect(r.values).toHaveLength(c.numLayers);
      const all = [r.logits, ...r.hidden, ...r.keys, ...r.values].flat();
      for (const v of all) expect(v.every(Number.isFinite)).toBe(true);
      for (const row of r.logits) expect(row).toHaveLength(c.vocabSize);
      for (const layer of r.hidden) for (const row of layer) expect(row).toHaveLength(c.hiddenSize);
      for (const layer of [...r.keys, ...r.values]) for (const row of layer) expect(row).toHaveLength(kvWidth);
      const embed = weights('model.embed_tokens.weight');
      expect(Array.from(r.hidden[0][1])).toEqual(Array.from(embed.subarray(17 * c.hiddenSize, 18 * c.hiddenSize)));
    });

    it('is causal: a prefix gives the same logits as the first positions of the full sequence', () => {
      const full = referenceForward(ckpt.config, weights, ids);
      const prefix = referenceForward(ckpt.config, weights, ids.slice(0, 4));
      for (let t = 0; t < 4; t++) expect(prefix.logits[t]).toEqual(full.logits[t]);
    });

    it('depends only on relative positions: shifting all positions by a constant keeps the logits', () => {
      const base = referenceForward(ckpt.config, weights, ids);
      const shifted = referenceForward(ckpt.config, weights, ids, { positions: ids.map((_, i) => i + 1000) });
      for (let t = 0; t < ids.length; t++) {
        const scale = Math.max(...base.logits[t].map(Math.abs));
        expect(maxAbsDiff(shifted.logits[t], base.logits[t])).toBeLessThan(1e-5 * (1 + scale));
      }
    });

    it('returns keys rotated to their position and unrotated values', () => {
      const c = ckpt.config;
      const at0 = referenceForward(c, weights, [42], { positions: [0] }); // cos = 1, sin = 0: the plain k_proj output
      const at = referenceForward(c, weights, [42], { positions: [37] });
      for (let l = 0; l < c.numLayers; l++) {
        const expected = hfRotary(at0.keys[l][0], c.numKvHeads, c.headDim, 37, c.ropeTheta);
        expect(maxAbsDiff(at.keys[l][0], expected)).toBeLessThan(1e-5);
        expect(at.values[l][0]).toEqual(at0.values[l][0]);
      }
    });
  },
);
