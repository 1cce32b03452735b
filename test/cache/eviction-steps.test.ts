/**
 * Each eviction step on small inputs whose expected values are worked out by hand in the comments.
 */
import { describe, expect, test } from 'vitest';
import {
  accumulatedScores,
  aggregateWindow,
  allocate,
  clampToHeadMean,
  layerBudgets,
  poolWindow,
  selectByQuota,
  weightByValueNorm,
  type SegmentShape,
} from '../../src/cache/eviction';

function shapeOf(partial: Partial<SegmentShape>): SegmentShape {
  return { tokens: 1, kvHeads: 1, groupHeads: 1, window: 1, sinkLen: 0, probeLen: 0, ...partial };
}

function expectClose(actual: ArrayLike<number>, expected: number[], digits = 6): void {
  expect(actual.length).toBe(expected.length);
  expected.forEach((e, i) => expect(actual[i], `index ${i}`).toBeCloseTo(e, digits));
}

const normalised = (xs: number[]): number[] => {
  const sum = xs.reduce((a, b) => a + b, 0);
  return xs.map((x) => x / sum);
};

describe('pool', () => {
  // One row over S = 7 keys: sink 0.2 | segment 0.2 0 0 0.4 0.1 | probe 0.1.
  const shape = shapeOf({ tokens: 5, sinkLen: 1, probeLen: 1 });
  const row = Float32Array.from([0.2, 0.2, 0, 0, 0.4, 0.1, 0.1]);

  test('kernel 1 cuts out the segment columns and renormalises them (sink and probe ignored)', () => {
    expectClose(poolWindow(row, shape, 1), [0.2 / 0.7, 0, 0, 0.4 / 0.7, 0.1 / 0.7]);
  });

  test('kernel 3: the window shrinks at the edges, then the row is renormalised', () => {
    // (0.2+0)/2, (0.2+0+0)/3, (0+0+0.4)/3, (0+0.4+0.1)/3, (0.4+0.1)/2
    const raw = [0.1, 0.2 / 3, 0.4 / 3, 0.5 / 3, 0.25];
    expectClose(poolWindow(row, shape, 3), normalised(raw));
  });

  test('kernel 5 (the default)', () => {
    // 0.2/3 (tokens 0..2), 0.6/4 (0..3), 0.7/5 (0..4), 0.5/4 (1..4), 0.5/3 (2..4)
    const raw = [0.2 / 3, 0.15, 0.14, 0.125, 0.5 / 3];
    const pooled = poolWindow(row, shape, 5);
    expectClose(pooled, normalised(raw));
    expect(pooled.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  test('a kernel wider than the segment averages whatever is there', () => {
    const tiny = shapeOf({ tokens: 2, sinkLen: 1 });
    // Both tokens see both columns: (0.3 + 0.1) / 2 each, renormalised to 0.5 and 0.5.
    expectClose(poolWindow(Float32Array.from([0.6, 0.3, 0.1]), tiny, 5), [0.5, 0.5]);
  });

  test('rows are independent, and a row that gave the segment nothing stays zero (no NaN)', () => {
    const two = shapeOf({ tokens: 3, sinkLen: 1, window: 2 });
    const probs = Float32Array.from([1, 0, 0, 0, /* row 2 */ 0.5, 0, 0.5, 0]);
    // row 2: (0+0.5)/2, 0.5/3, (0.5+0)/2 = 0.25, 1/6, 0.25 → / (2/3) = 0.375, 0.25, 0.375
    expectClose(poolWindow(probs, two, 3), [0, 0, 0, 0.375, 0.25, 0.375]);
  });

  test('reuses the buffer it is given, and rejects an even kernel', () => {
    const out = new Float32Array(16);
    const pooled = poolWindow(row, shape, 5, out);
    expect(pooled.buffer).toBe(out.buffer);
    expect(() => poolWindow(row, shape, 4)).toThrow(/odd/);
  });
});

describe('aggregate', () => {
  // kvHeads 2, G 2, W 2, n 3: rows in [kvHead, group head, window query] order.
  const shape = shapeOf({ tokens: 3, kvHeads: 2, groupHeads: 2, window: 2 });
  // prettier-ignore
  const rows = Float32Array.from([
    0.2, 0.3, 0.5,  0.6, 0.2, 0.2, // kv head 0, query head 0, queries 0 and 1
    0.1, 0.1, 0.8,  0.3, 0.3, 0.4, // kv head 0, query head 1
    1.0, 0.0, 0.0,  0.0, 1.0, 0.0, // kv head 1, query head 2
    0.0, 0.0, 1.0,  0.0, 0.0, 1.0, // kv head 1, query head 3
  ]);

  test('max takes the worst case over query heads and window queries', () => {
    expectClose(aggregateWindow(rows, shape, 'max'), [0.6, 0.3, 0.8, 1, 1, 1]);
  });

  test('mean averages over the G·W rows of the group', () => {
    // kv head 0: (0.2+0.6+0.1+0.3)/4, (0.3+0.2+0.1+0.3)/4, (0.5+0.2+0.8+0.4)/4; kv head 1: 1/4, 1/4, 2/4
    expectClose(aggregateWindow(rows, shape, 'mean'), [0.3, 0.225, 0.475, 0.25, 0.25, 0.5]);
  });
});

describe('clamp', () => {
  test('raises every score below its head mean exactly to the mean, leaves the rest', () => {
    const shape = shapeOf({ tokens: 4, kvHeads: 2 });
    // head 0 mean (0.1+0.5+0.2+0.2)/4 = 0.25; head 1 mean (1+0+0+3)/4 = 1
    const clamped = clampToHeadMean(Float32Array.from([0.1, 0.5, 0.2, 0.2, 1, 0, 0, 3]), shape);
    expect(Array.from(clamped)).toEqual([0.25, 0.5, 0.25, 0.25, 1, 1, 1, 3].map(Math.fround));
  });

  test('a score equal to the mean is unchanged and the input is not mutated', () => {
    const scores = Float32Array.from([0.5, 0.5]);
    expect(Array.from(clampToHeadMean(scores, shapeOf({ tokens: 2 })))).toEqual([0.5, 0.5]);
    const input = Float32Array.from([0, 1]);
    clampToHeadMean(input, shapeOf({ tokens: 2 }));
    expect(Array.from(input)).toEqual([0, 1]);
  });
});

describe('value weighting', () => {
  const shape = shapeOf({ tokens: 4, groupHeads: 2 });

  test('multiplies by the group-mean value norm normalised to mean 1', () => {
    // query heads [2,0,4,2] and [2,0,0,6] → mean [2,0,2,4], token mean 2 → weights [1,0,1,2]
    const norms = Float32Array.from([2, 0, 4, 2, 2, 0, 0, 6]);
    const weighted = weightByValueNorm(Float32Array.from([0.4, 0.3, 0.2, 0.1]), norms, shape);
    expectClose(weighted, [0.4, 0, 0.2, 0.2]);
  });

  test('uses each kv head’s own query heads', () => {
    const two = shapeOf({ tokens: 2, kvHeads: 2, groupHeads: 1 });
    // kv head 0 norms [1,3] → [0.5,1.5]; kv head 1 norms [3,1] → [1.5,0.5]
    const weighted = weightByValueNorm(Float32Array.from([1, 1, 1, 1]), Float32Array.from([1, 3, 3, 1]), two);
    expectClose(weighted, [0.5, 1.5, 1.5, 0.5]);
  });

  test('all-zero norms leave the scores unchanged', () => {
    const weighted = weightByValueNorm(Float32Array.from([0.4, 0.3, 0.2, 0.1]), new Float32Array(8), shape);
    expectClose(weighted, [0.4, 0.3, 0.2, 0.1]);
  });
});

describe('accumulated attention (h2o)', () => {
  test('averages the segment columns over the group, ignoring sink and probe columns', () => {
    const shape = shapeOf({ tokens: 2, groupHeads: 2, sinkLen: 1, probeLen: 1 });
    // query head 0: sink 9 | 1 2 | probe 9; query head 1: sink 9 | 3 0 | probe 9
    const sums = Float32Array.from([9, 1, 2, 9, 9, 3, 0, 9]);
    expectClose(accumulatedScores(sums, shape), [2, 1]);
  });
});

describe('layer budgets', () => {
  test('uniform: round(keepRatio · n · kvHeads) per layer, at least the protected tokens of every head', () => {
    expect(Array.from(layerBudgets(10, 3, 2, 0.25, 0, 'uniform'))).toEqual([8, 8]); // round(7.5)
    expect(Array.from(layerBudgets(10, 3, 2, 0.01, 4, 'adaptive'))).toEqual([12, 12]); // 4 protected · 3 heads
  });

  test('pyramid falls linearly from 1.5× to 0.5× the mean, same total', () => {
    expect(Array.from(layerBudgets(100, 2, 5, 0.5, 0, 'pyramid'))).toEqual([150, 125, 100, 75, 50]);
  });

  test('pyramid flattens its slope instead of clipping when a bound is in the way', () => {
    // 40 protected → at least 80 per layer: spread (100 − 80) / 100 = 0.2
    expect(Array.from(layerBudgets(100, 2, 5, 0.5, 40, 'pyramid'))).toEqual([120, 110, 100, 90, 80]);
    // keepRatio 0.9: mean 180, at most 200 → spread 20 / 180
    expect(Array.from(layerBudgets(100, 2, 5, 0.9, 0, 'pyramid'))).toEqual([200, 190, 180, 170, 160]);
  });

  test('pyramid-up is the pyramid upside down: rising with depth, same total and bounds', () => {
    expect(Array.from(layerBudgets(100, 2, 5, 0.5, 0, 'pyramid-up'))).toEqual([50, 75, 100, 125, 150]);
    expect(Array.from(layerBudgets(100, 2, 5, 0.5, 40, 'pyramid-up'))).toEqual([80, 90, 100, 110, 120]);
    // Uneven rounding (mean 33, 4 layers): the reverse of the pyramid's own budgets, whatever they round to.
    const down = Array.from(layerBudgets(33, 1, 4, 1, 0, 'pyramid'));
    expect(Array.from(layerBudgets(33, 1, 4, 1, 0, 'pyramid-up'))).toEqual([...down].reverse());
    const up = Array.from(layerBudgets(97, 2, 7, 0.3, 3, 'pyramid-up'));
    expect(up.reduce((a, b) => a + b, 0)).toBe(7 * Math.round(0.3 * 97 * 2));
    up.slice(1).forEach((b, l) => expect(b).toBeGreaterThanOrEqual(up[l]!));
  });

  test('pyramid rounding keeps the exact total and a non-increasing profile', () => {
    const budgets = Array.from(layerBudgets(7, 3, 4, 0.3, 0, 'pyramid')); // mean round(6.3) = 6
    expect(budgets.reduce((a, b) => a + b, 0)).toBe(24);
    budgets.slice(1).forEach((b, l) => expect(b).toBeLessThanOrEqual(budgets[l]));
  });
});

describe('selection', () => {
  test('floors first, then the best remaining of any head; ties go to the lower token index', () => {
    // two heads of 3 tokens; head 1 has the three best scores, but head 0 has a floor of 1
    const keys = Float32Array.from([0.1, 0.2, 0.2, 0.9, 0.8, 0.7]);
    const mask = selectByQuota(keys, 3, Int32Array.from([1, 0]), 4);
    // head 0's best is token 1 (0.2, tied with token 2, lower index wins); then 0.9, 0.8, 0.7 of head 1
    expect(Array.from(mask)).toEqual([0, 1, 0, 1, 1, 1]);
  });

  test('equal keys across heads go to the lower token index, then the lower head', () => {
    const keys = Float32Array.from([0.5, 0.5, 0.5, 0.5]);
    expect(Array.from(selectByQuota(keys, 2, Int32Array.from([0, 0]), 3))).toEqual([1, 1, 1, 0]);
  });
});

describe('allocate', () => {
  const shape = { tokens: 4, kvHeads: 2 };
  // head 0 concentrated on one token, head 1 spread out
  const scores = [Float32Array.from([0.97, 0.01, 0.01, 0.01, 0.3, 0.25, 0.25, 0.2])];
  const none = new Uint8Array(4);

  test('uniform gives each head the same share', () => {
    const kept = allocate(scores, none, shape, 0.5, 'uniform');
    expect(kept.layers[0].heads.map((h) => Array.from(h))).toEqual([
      [0, 1],
      [0, 1],
    ]);
  });

  test('adaptive moves budget to the head whose attention is spread, down to the floor', () => {
    // B = 4, floor ⌊0.2 · 2⌋ = 0 → the 4 best of all: 0.97 (h0), 0.3, 0.25, 0.25 (h1)
    const kept = allocate(scores, none, shape, 0.5, 'adaptive');
    expect(kept.layers[0].heads.map((h) => Array.from(h))).toEqual([[0], [0, 1, 2]]);
    expect(kept.total).toBe(4);
  });

  test('protected tokens are kept first and count toward the budget', () => {
    const kept = allocate(scores, Uint8Array.from([0, 0, 0, 1]), shape, 0.5, 'adaptive');
    // floor = 1 protected; head 0 keeps 3 (protected) + 0 (0.97); head 1 keeps 3, then the remaining best 0.3
    expect(kept.layers[0].heads.map((h) => Array.from(h))).toEqual([
      [0, 3],
      [0, 3],
    ]);
  });
});
