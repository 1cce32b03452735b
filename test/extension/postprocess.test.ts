import { describe, expect, it } from 'vitest';
import { postprocess, type PostprocessStep } from '../../src/extension/completion/postprocess';
import { loadGoldenCases, parseGoldenCase } from './golden';

const cases = loadGoldenCases();

describe('postprocess golden cases', () => {
  it('has a healthy number of cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    expect(postprocess(c.input)).toBe(c.expected);
  });
});

describe('postprocess pipeline', () => {
  const base = parseGoldenCase(
    'inline',
    'language: typescript\nindent: 2\n--- document\nfoo(║)\n--- completion\na)\n--- expected\na',
  ).input;

  it('runs caller-supplied steps in order and stops at null', () => {
    const seen: string[] = [];
    const upper: PostprocessStep = (t) => (seen.push(t), t.toUpperCase());
    const drop: PostprocessStep = () => null;
    const never: PostprocessStep = (t) => (seen.push('never'), t);
    expect(postprocess(base, [upper])).toBe('A)');
    expect(postprocess(base, [upper, drop, never])).toBeNull();
    expect(seen).toEqual(['a)', 'a)']);
  });

  it('is idempotent on its own output', () => {
    for (const c of cases) {
      if (c.expected === null) continue;
      expect(postprocess({ ...c.input, completion: c.expected }), c.name).toBe(c.expected);
    }
  });
});

describe('postprocess robustness', () => {
  /** Deterministic pseudo-random numbers (mulberry32), so a failure reproduces. */
  function rng(seed: number): () => number {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const alphabet = [
    'a',
    'b',
    ' ',
    '  ',
    '\t',
    '\n',
    '(',
    ')',
    '{',
    '}',
    '[',
    ']',
    '"',
    "'",
    '`',
    '#',
    '//',
    '/*',
    ':',
    ';',
  ];
  const languages = ['typescript', 'python', 'ruby', 'yaml', 'go', 'markdown', 'unknown-lang'];

  it('never throws and never returns a blank or over-long suggestion', () => {
    const random = rng(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const text = (n: number): string => Array.from({ length: n }, () => pick(alphabet)).join('');
    for (let i = 0; i < 2000; i++) {
      const maxLines = 1 + Math.floor(random() * 6);
      const result = postprocess({
        completion: text(Math.floor(random() * 40)),
        linePrefix: text(Math.floor(random() * 6)).replace(/\n/g, ''),
        lineSuffix: text(Math.floor(random() * 4)).replace(/\n/g, ''),
        followingLines: text(Math.floor(random() * 20)).split('\n'),
        indentUnit: pick(['\t', '  ', '    ']),
        languageId: pick(languages),
        maxLines,
      });
      if (result === null) continue;
      expect(result.trim()).not.toBe('');
      expect(result.split('\n').length).toBeLessThanOrEqual(maxLines);
    }
  });
});
