/**
 * evictSegment end to end: invariants over seeded random segments (protected tokens, exact budgets, floors,
 * pyramid and joint totals), planted needles for the window and value-norm steps, ablations, determinism.
 */
import { describe, expect, test } from 'vitest';
import { DEFAULT_CACHE_CONFIG, type EvictionPolicy, type LayerBudget } from '../../src/cache/cache-config';
import {
  HEAD_FLOOR_FRACTION,
  evictSegment,
  type EvictionConfig,
  type KeptTokens,
  type SegmentScoringInputs,
  type SegmentShape,
} from '../../src/cache/eviction';

const POLICIES: EvictionPolicy[] = ['none', 'snapkv', 'defensive', 'h2o'];
const ALLOCATORS: LayerBudget[] = ['uniform', 'adaptive', 'pyramid', 'pyramid-up', 'joint'];
const RATIOS = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.99, 1];

/** xorshift32: a small deterministic generator so that every failure reproduces from its seed. */
function random(seed: number): () => number {
  let x = (seed * 2654435761) | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Softmax rows with random logits (spikier as `peak` grows) and heavy sink columns, like real attention. */
function softmaxRows(rand: () => number, rows: number, S: number, sinkLen: number, peak: number): Float32Array {
  const out = new Float32Array(rows * S);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let k = 0; k < S; k++) {
      const e = Math.exp(peak * rand() ** 3 + (k < sinkLen ? 3 : 0));
      out[r * S + k] = e;
      sum += e;
    }
    for (let k = 0; k < S; k++) out[r * S + k] /= sum;
  }
  return out;
}

function randomInputs(seed: number, shape: SegmentShape, layers: number, peak = 6): SegmentScoringInputs {
  const rand = random(seed);
  const { tokens: n, kvHeads, groupHeads: G, window: W, sinkLen, probeLen } = shape;
  const S = sinkLen + n + probeLen;
  const protectedMask = new Uint8Array(n);
  for (let j = 0; j < n; j++) protectedMask[j] = rand() < 0.1 ? 1 : 0;
  return {
    shape,
    protectedMask,
    headerTokens: Math.floor(rand() * Math.min(4, n)),
    layers: Array.from({ length: layers }, () => {
      const columnSums = new Float32Array(kvHeads * G * S).map(() => rand() * n);
      return {
        windowProbs: softmaxRows(rand, kvHeads * G * W, S, sinkLen, peak),
        allProbsColumnSums: columnSums,
        valueNorms: new Float32Array(kvHeads * G * n).map(() => rand() * 2),
      };
    }),
  };
}

function randomShape(rand: () => number): SegmentShape {
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  return {
    tokens: int(1, 70),
    kvHeads: int(1, 3),
    groupHeads: int(1, 3),
    window: int(1, 6),
    sinkLen: int(0, 4),
    probeLen: int(0, 3),
  };
}

function config(eviction: EvictionPolicy, layerBudget: LayerBudget, keepRatio: number): EvictionConfig {
  // The paper's full DefensiveKV (with the head-mean clamp), whatever the project's default.
  return { ...DEFAULT_CACHE_CONFIG, eviction, layerBudget, keepRatio, headMeanClamp: true };
}

/** The protected set the way the brief states it: the mask plus the header line. */
function protectedSet(inputs: SegmentScoringInputs): number[] {
  const out: number[] = [];
  for (let j = 0; j < inputs.shape.tokens; j++) {
    if (inputs.protectedMask[j] || j < (inputs.headerTokens ?? 0)) out.push(j);
  }
  return out;
}

/** Layout invariants every result must hold whatever the policy; returns what is wrong (checked in bulk: fast). */
function layoutProblems(kept: KeptTokens, inputs: SegmentScoringInputs): string[] {
  const { tokens: n, kvHeads } = inputs.shape;
  const problems: string[] = [];
  if (kept.layers.length !== inputs.layers.length) problems.push('layer count');
  let total = 0;
  kept.layers.forEach((layer, l) => {
    if (layer.offsets.length !== kvHeads + 1 || layer.offsets[kvHeads] !== layer.indices.length) {
      problems.push(`layer ${l}: offsets`);
    }
    if (kept.layerCounts[l] !== layer.indices.length) problems.push(`layer ${l}: count`);
    total += layer.indices.length;
    layer.heads.forEach((head, h) => {
      for (let i = 0; i < head.length; i++) {
        // in range, ascending, no duplicates
        if (head[i] < 0 || head[i] >= n || (i > 0 && head[i] <= head[i - 1])) problems.push(`layer ${l} head ${h}`);
      }
    });
  });
  if (kept.total !== total) problems.push('total');
  return problems;
}

function expectedLayerBudget(inputs: SegmentScoringInputs, keepRatio: number): number {
  const { tokens: n, kvHeads } = inputs.shape;
  const floor = protectedSet(inputs).length * kvHeads;
  return Math.min(n * kvHeads, Math.max(floor, Math.round(keepRatio * n * kvHeads)));
}

describe('properties over seeded random segments', () => {
  const cases = Array.from({ length: 60 }, (_, seed) => seed);

  test.each(cases)('seed %i: protected tokens survive every policy, allocator and ratio', (seed) => {
    const rand = random(1000 + seed);
    const inputs = randomInputs(seed, randomShape(rand), 1 + Math.floor(rand() * 4));
    const mustKeep = protectedSet(inputs);
    const problems: string[] = [];
    for (const policy of POLICIES) {
      for (const allocator of ALLOCATORS) {
        for (const ratio of RATIOS) {
          const label = `${policy}/${allocator}/${ratio}`;
          const kept = evictSegment(inputs, config(policy, allocator, ratio));
          problems.push(...layoutProblems(kept, inputs).map((p) => `${label}: ${p}`));
          kept.layers.forEach((layer, l) =>
            layer.heads.forEach((head, h) => {
              const set = new Set(head);
              for (const j of mustKeep) if (!set.has(j)) problems.push(`${label}: layer ${l} head ${h} lost ${j}`);
            }),
          );
        }
      }
    }
    expect(problems).toEqual([]);
  });

  test.each(cases)('seed %i: kept counts sum exactly to the budget; floors and pyramid hold', (seed) => {
    const rand = random(2000 + seed);
    const layers = 1 + Math.floor(rand() * 5);
    const inputs = randomInputs(seed, randomShape(rand), layers);
    const { tokens: n, kvHeads } = inputs.shape;
    const protectedCount = protectedSet(inputs).length;
    for (const policy of ['snapkv', 'defensive', 'h2o'] as const) {
      for (const ratio of RATIOS) {
        const B = expectedLayerBudget(inputs, ratio);
        for (const allocator of ALLOCATORS) {
          const kept = evictSegment(inputs, config(policy, allocator, ratio));
          const label = `${policy}/${allocator}/${ratio}`;
          // every allocator spends exactly L · B over the segment
          expect(kept.total, label).toBe(layers * B);
          if (allocator === 'uniform' || allocator === 'adaptive') {
            kept.layers.forEach((_, l) => expect(kept.layerCounts[l], label).toBe(B));
          }
          if (allocator === 'uniform') {
            for (const layer of kept.layers) {
              const sizes = layer.heads.map((h) => h.length);
              expect(Math.max(...sizes) - Math.min(...sizes), label).toBeLessThanOrEqual(1);
            }
          }
          if (allocator === 'adaptive' || allocator === 'joint') {
            const floor = Math.max(protectedCount, Math.floor((HEAD_FLOOR_FRACTION * B) / kvHeads));
            for (const layer of kept.layers) {
              for (const head of layer.heads) expect(head.length, label).toBeGreaterThanOrEqual(floor);
            }
          }
          if (allocator === 'pyramid' || allocator === 'pyramid-up') {
            const counts = Array.from(kept.layerCounts);
            if (allocator === 'pyramid-up') counts.reverse();
            counts.slice(1).forEach((c, l) => expect(c, label).toBeLessThanOrEqual(counts[l]));
            for (const c of counts) expect(c).toBeGreaterThanOrEqual(protectedCount * kvHeads);
            for (const c of counts) expect(c).toBeLessThanOrEqual(n * kvHeads);
          }
        }
      }
    }
  });

  test('pyramid budgets strictly decrease with depth when there is room, keeping the total', () => {
    const inputs = randomInputs(7, { tokens: 200, kvHeads: 2, groupHeads: 2, window: 4, sinkLen: 4, probeLen: 2 }, 6);
    inputs.protectedMask.fill(0);
    inputs.headerTokens = 0;
    const kept = evictSegment(inputs, config('defensive', 'pyramid', 0.25));
    const counts = Array.from(kept.layerCounts);
    counts.slice(1).forEach((c, l) => expect(c).toBeLessThan(counts[l]));
    expect(counts[0]).toBe(150); // 1.5 · 100
    expect(counts[5]).toBe(50); // 0.5 · 100
    expect(kept.total).toBe(6 * 100);
  });

  test('joint moves budget between layers but keeps the total', () => {
    const inputs = randomInputs(11, { tokens: 64, kvHeads: 2, groupHeads: 2, window: 8, sinkLen: 4, probeLen: 2 }, 4);
    // layer 0 attends to a handful of tokens, the others spread their attention: layer 0 should need less
    const probs = inputs.layers[0].windowProbs!;
    probs.fill(0);
    const S = 4 + 64 + 2;
    for (let r = 0; r < probs.length / S; r++) probs[r * S + 4 + 10] = 1;
    inputs.layers[0].valueNorms!.fill(1);
    const kept = evictSegment(inputs, config('defensive', 'joint', 0.25));
    expect(kept.total).toBe(4 * expectedLayerBudget(inputs, 0.25));
    expect(new Set(kept.layerCounts).size).toBeGreaterThan(1);
    expect(kept.layerCounts[0]).toBeLessThan(kept.total / 4);
  });
});

describe('keep everything', () => {
  const inputs = randomInputs(3, { tokens: 33, kvHeads: 2, groupHeads: 3, window: 5, sinkLen: 4, probeLen: 2 }, 3);
  const all = Array.from({ length: 33 }, (_, j) => j);

  test.each(POLICIES.flatMap((p) => ALLOCATORS.map((a) => [p, a] as const)))('keepRatio 1 under %s/%s', (p, a) => {
    const kept = evictSegment(inputs, config(p, a, 1));
    for (const layer of kept.layers) for (const head of layer.heads) expect(Array.from(head)).toEqual(all);
    expect(kept.total).toBe(3 * 2 * 33);
  });

  test.each(RATIOS)('policy none keeps everything at keepRatio %s', (ratio) => {
    const kept = evictSegment(inputs, config('none', 'adaptive', ratio));
    for (const layer of kept.layers) for (const head of layer.heads) expect(Array.from(head)).toEqual(all);
  });
});

describe('planted needles', () => {
  const shape: SegmentShape = { tokens: 96, kvHeads: 2, groupHeads: 2, window: 8, sinkLen: 4, probeLen: 2 };
  const S = shape.sinkLen + shape.tokens + shape.probeLen;
  const NEEDLE = 37; // high attention in one query head only
  const MUTE = 70; // high attention everywhere, but its value barely moves the output

  // A mild background (the needles must stand out of it) with value norms around 1.
  function needleInputs(): SegmentScoringInputs {
    const inputs = randomInputs(5, shape, 2, 2);
    inputs.protectedMask.fill(0);
    inputs.headerTokens = 0;
    for (const layer of inputs.layers) {
      const probs = layer.windowProbs!;
      const rows = probs.length / S;
      for (let r = 0; r < rows; r++) {
        const queryHead = Math.floor(r / shape.window); // kv head · G + g
        if (queryHead === 3) probs[r * S + shape.sinkLen + NEEDLE] += 0.3; // kv head 1, its second query head
        probs[r * S + shape.sinkLen + MUTE] += 0.3;
      }
      const norms = layer.valueNorms!;
      for (let q = 0; q < shape.kvHeads * shape.groupHeads; q++) {
        norms[q * shape.tokens + NEEDLE] = 1;
        norms[q * shape.tokens + MUTE] = 1e-4;
      }
    }
    return inputs;
  }

  const keptIn = (kept: KeptTokens, kvHead: number, token: number) =>
    kept.layers.every((layer) => layer.heads[kvHead].includes(token));

  test.each(ALLOCATORS)('a token one head attends to is kept by snapkv and defensive (%s)', (allocator) => {
    const inputs = needleInputs();
    for (const policy of ['snapkv', 'defensive'] as const) {
      expect(keptIn(evictSegment(inputs, config(policy, allocator, 0.2)), 1, NEEDLE), policy).toBe(true);
    }
  });

  test.each(ALLOCATORS)('high attention but a near-zero value norm: defensive drops it, snapkv keeps it (%s)', (a) => {
    const inputs = needleInputs();
    const snap = evictSegment(inputs, config('snapkv', a, 0.2));
    const defensive = evictSegment(inputs, config('defensive', a, 0.2));
    for (const h of [0, 1]) {
      expect(keptIn(snap, h, MUTE)).toBe(true);
      expect(defensive.layers.some((layer) => layer.heads[h].includes(MUTE))).toBe(false);
    }
    // ...and it is the value-weight step that drops it
    const noValueWeight = evictSegment(inputs, config('defensive', a, 0.2), { valueWeight: false });
    expect(keptIn(noValueWeight, 0, MUTE) && keptIn(noValueWeight, 1, MUTE)).toBe(true);
  });
});

describe('composition and ablations', () => {
  const inputs = randomInputs(21, { tokens: 80, kvHeads: 2, groupHeads: 3, window: 6, sinkLen: 4, probeLen: 2 }, 3);
  const heads = (kept: KeptTokens) => kept.layers.map((l) => l.heads.map((h) => Array.from(h)));

  test('snapkv with the defensive steps switched on is defensive', () => {
    const defensive = evictSegment(inputs, config('defensive', 'adaptive', 0.25));
    const upgraded = evictSegment(inputs, config('snapkv', 'adaptive', 0.25), {
      aggregation: 'max',
      clamp: true,
      valueWeight: true,
    });
    expect(heads(upgraded)).toEqual(heads(defensive));
  });

  test.each([{ pool: false }, { clamp: false }, { valueWeight: false }, { aggregation: 'mean' as const }])(
    'ablation %o changes the selection but not the budget',
    (override) => {
      const full = evictSegment(inputs, config('defensive', 'adaptive', 0.25));
      const ablated = evictSegment(inputs, config('defensive', 'adaptive', 0.25), override);
      expect(heads(ablated)).not.toEqual(heads(full));
      expect(ablated.total).toBe(full.total);
    },
  );

  test('equal inputs give equal outputs, and the inputs are not modified', () => {
    const copy = structuredClone(inputs);
    for (const policy of POLICIES) {
      for (const allocator of ALLOCATORS) {
        const a = evictSegment(inputs, config(policy, allocator, 0.25));
        const b = evictSegment(structuredClone(inputs), config(policy, allocator, 0.25));
        expect(heads(a)).toEqual(heads(b));
      }
    }
    expect(inputs).toEqual(copy);
  });

  test('a policy without its inputs, or mis-sized inputs, fails loudly', () => {
    const noNorms = { ...inputs, layers: inputs.layers.map((l) => ({ windowProbs: l.windowProbs })) };
    expect(() => evictSegment(noNorms, config('defensive', 'adaptive', 0.5))).toThrow(/valueNorms/);
    expect(evictSegment(noNorms, config('snapkv', 'adaptive', 0.5)).total).toBeGreaterThan(0);
    const short = { ...inputs, protectedMask: new Uint8Array(3) };
    expect(() => evictSegment(short, config('defensive', 'adaptive', 0.5))).toThrow(/protectedMask/);
  });
});

// A guard against accidental quadratic work, not a speed benchmark: the bound is ~30× the time measured on an idle
// machine (0.5–1 s), so a loaded shared CI machine stays far below it while an O(n²) scorer would not.
test('a full-size layer stack (n 1024, W 32, 4 kv heads × 7, 28 layers) scores in linear time', () => {
  const shape: SegmentShape = { tokens: 1024, kvHeads: 4, groupHeads: 7, window: 32, sinkLen: 4, probeLen: 3 };
  const one = randomInputs(1, shape, 1);
  // the same arrays for every layer: the cost is the scorer's, not the generator's
  const inputs = { ...one, layers: Array.from({ length: 28 }, () => one.layers[0]) };
  for (const allocator of ALLOCATORS) {
    const start = performance.now();
    const kept = evictSegment(inputs, config('defensive', allocator, 0.5));
    const ms = performance.now() - start;
    expect(kept.total).toBe(28 * 4 * 512);
    expect(ms, `${allocator}: ${ms.toFixed(0)} ms`).toBeLessThan(30_000);
  }
});
