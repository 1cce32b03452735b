import { describe, expect, it } from 'vitest';
import {
  bootstrapCI,
  contextGain,
  contextGainRetained,
  editSimilarity,
  exactMatch,
  identifierTokensCorrect,
  klDivergence,
  levenshtein,
  mean,
  nllFromLogits,
  overlapMask,
} from '../../src/eval/metrics';
import { seededRandom } from '../../src/engine/sampling';

describe('exactMatch and editSimilarity', () => {
  it('exact match ignores trailing whitespace only', () => {
    expect(exactMatch('foo(bar)  \n', 'foo(bar)')).toBe(1);
    expect(exactMatch('foo(bar)', 'foo(bar)\r')).toBe(1);
    expect(exactMatch(' foo(bar)', 'foo(bar)')).toBe(0);
    expect(exactMatch('foo(baz)', 'foo(bar)')).toBe(0);
  });

  it('computes Levenshtein distances of known pairs', () => {
    expect(levenshtein('kitten', 'sitting')).toBe(3);
    expect(levenshtein('sitting', 'kitten')).toBe(3);
    expect(levenshtein('flaw', 'lawn')).toBe(2);
    expect(levenshtein('', 'abc')).toBe(3);
    expect(levenshtein('same', 'same')).toBe(0);
  });

  it('edit similarity is 1 − distance / longer length', () => {
    expect(editSimilarity('kitten', 'sitting')).toBeCloseTo(1 - 3 / 7, 12);
    expect(editSimilarity('', '')).toBe(1);
    expect(editSimilarity('abc', '')).toBe(0);
    expect(editSimilarity('return x;  ', 'return x;')).toBe(1);
    // code points, not UTF-16 units: one emoji differs in a two-character string
    expect(editSimilarity('a😀', 'a😁')).toBe(0.5);
  });
});

describe('nllFromLogits', () => {
  it('is ln V for a uniform distribution', () => {
    const vocab = 50;
    const nll = nllFromLogits(new Float32Array(vocab * 3).fill(7.25), vocab, [0, 17, 49]);
    for (const v of nll) expect(v).toBeCloseTo(Math.log(vocab), 12);
  });

  it('matches a hand-computed two-token case and stays finite for large logits', () => {
    // p = softmax([0, ln 3]) = [1/4, 3/4]
    const [a, b] = nllFromLogits(new Float32Array([0, Math.log(3), 0, Math.log(3)]), 2, [0, 1]);
    expect(a).toBeCloseTo(Math.log(4), 6);
    expect(b).toBeCloseTo(Math.log(4 / 3), 6);
    const [big, small] = nllFromLogits(new Float32Array([1000, 0, 1000, 0]), 2, [0, 1]);
    expect(big).toBeCloseTo(0, 12);
    expect(small).toBeCloseTo(1000, 9);
  });

  it('checks shapes and targets', () => {
    expect(() => nllFromLogits(new Float32Array(5), 2, [0, 1])).toThrow(/expected 2 rows/);
    expect(() => nllFromLogits(new Float32Array(4), 2, [0, 2])).toThrow(/outside/);
  });
});

describe('klDivergence', () => {
  it('is 0 for identical logits, also shifted by a constant', () => {
    const random = seededRandom(5);
    const p = Float32Array.from({ length: 3 * 64 }, () => random() * 20 - 10);
    const q = p.map((v) => v + 3.5);
    for (const v of klDivergence(p, p, 64, 3)) expect(v).toBe(0);
    for (const v of klDivergence(p, q, 64, 3)) expect(v).toBeCloseTo(0, 6);
  });

  it('matches a hand-computed two-token case', () => {
    // P = [1/2, 1/2], Q = [1/4, 3/4]: KL = ½ ln 2 + ½ ln(2/3) = ½ ln(4/3); reversed: ¼ ln(1/2) + ¾ ln(3/2)
    const p = new Float32Array([0, 0]);
    const q = new Float32Array([0, Math.log(3)]);
    expect(klDivergence(p, q, 2, 1)[0]).toBeCloseTo(0.5 * Math.log(4 / 3), 6);
    expect(klDivergence(q, p, 2, 1)[0]).toBeCloseTo(0.25 * Math.log(0.5) + 0.75 * Math.log(1.5), 6);
  });

  it('handles tokens P gives no mass and rejects mismatched shapes', () => {
    const p = new Float32Array([0, -Infinity]);
    const q = new Float32Array([0, 0]);
    expect(klDivergence(p, q, 2, 1)[0]).toBeCloseTo(Math.log(2), 12);
    expect(() => klDivergence(p, new Float32Array(3), 2, 1)).toThrow(/qLogits/);
  });
});

describe('identifier tokens', () => {
  it('marks tokens overlapping a span', () => {
    const spans: Array<[number, number]> = [
      [0, 7],
      [7, 11],
      [11, 14],
      [14, 16],
    ];
    expect(overlapMask(spans, 7, 14)).toEqual([false, true, true, false]);
    expect(overlapMask(spans, 5, 8)).toEqual([true, true, false, false]);
  });

  it('is 1 only when every overlapping token is right', () => {
    expect(identifierTokensCorrect([false, true, true, false], [false, true, true, false])).toBe(1);
    expect(identifierTokensCorrect([true, true, false, true], [false, true, true, false])).toBe(0);
    expect(() => identifierTokensCorrect([true], [false])).toThrow(/no target token/);
    expect(() => identifierTokensCorrect([true], [true, false])).toThrow(/1 correctness flags for 2 tokens/);
  });
});

describe('bootstrapCI and context gain', () => {
  const sample = (n: number, seed: number, center: number): number[] => {
    const random = seededRandom(seed);
    return Array.from({ length: n }, () => center + (random() + random() + random() - 1.5));
  };

  it('mean of nothing is NaN', () => {
    expect(mean([])).toBeNaN();
    expect(mean([1, 2, 3, 6])).toBe(3);
  });

  it('contains the mean, is deterministic for a seed and narrows with more data', () => {
    const small = sample(30, 1, 0.2);
    const large = sample(3000, 2, 0.2);
    const [lo, hi] = bootstrapCI(small, { seed: 9 });
    expect(lo).toBeLessThanOrEqual(mean(small));
    expect(hi).toBeGreaterThanOrEqual(mean(small));
    expect(bootstrapCI(small, { seed: 9 })).toEqual([lo, hi]);
    expect(bootstrapCI(small, { seed: 10 })).not.toEqual([lo, hi]);
    const [llo, lhi] = bootstrapCI(large, { seed: 9 });
    expect(lhi - llo).toBeLessThan((hi - lo) / 4);
    expect(
      bootstrapCI(small, { seed: 9, level: 0.5 })[1] - bootstrapCI(small, { seed: 9, level: 0.5 })[0],
    ).toBeLessThan(hi - lo);
    expect(bootstrapCI([2, 2, 2], { seed: 1, resamples: 50 })).toEqual([2, 2]);
    expect(() => bootstrapCI([], { seed: 1 })).toThrow();
  });

  it('retained share of the context gain', () => {
    expect(contextGainRetained(4, 3.5, 3)).toBe(0.5);
    expect(contextGainRetained(4, 3, 3)).toBe(1);
    expect(contextGainRetained(4, 4.5, 3)).toBe(-0.5);
    expect(contextGainRetained(3, 3, 3)).toBeNaN();
  });

  it('context gain is significant only when its interval excludes 0', () => {
    const none = sample(200, 3, 4);
    const helped = none.map((v, i) => v - 0.3 + 0.05 * Math.sin(i));
    const gain = contextGain(none, helped);
    expect(gain.gain).toBeCloseTo(mean(none) - mean(helped), 12);
    expect(gain.significant).toBe(true);
    expect(gain.ci[0]).toBeGreaterThan(0);
    const noise = none.map((v, i) => v + (i % 2 === 0 ? 0.4 : -0.4));
    const flat = contextGain(none, noise, { seed: 4 });
    expect(flat.significant).toBe(false);
    expect(flat.ci[0]).toBeLessThan(0);
    expect(flat.ci[1]).toBeGreaterThan(0);
    expect(() => contextGain([1, 2], [1])).toThrow(/2 no-context values for 1/);
  });
});
