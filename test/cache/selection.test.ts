import { describe, expect, it } from 'vitest';
import { type Candidate, identifiersOf, relevanceScores, selectSegments } from '../../src/cache/selection';

function candidate(path: string, text: string, tokens = 100, recency = 0): Candidate & { name: string } {
  return { name: path, path, tokens, identifiers: identifiersOf(text), recency };
}

describe('segment selection', () => {
  const everywhere = 'ZodType parse value';
  const repo = [
    candidate('a.ts', `${everywhere} ZodType ZodType parse`),
    candidate('b.ts', `${everywhere} checkLowerCaseDef`),
    candidate('c.ts', `${everywhere} other things`),
    candidate('d.ts', `${everywhere} unrelated`),
  ];

  it('weights shared identifiers by rarity: one rare identifier outranks any number of common ones', () => {
    const scores = relevanceScores(repo, 'const x: ZodType = parse(value); checkLowerCaseDef(x);');
    expect(scores[0]).toBe(0); // shares only identifiers every candidate has
    expect(scores[1]).toBeCloseTo(Math.log(4 / 1), 10);
    expect(scores[2]).toBe(0);
    const chosen = selectSegments(repo, 'ZodType parse value checkLowerCaseDef', 'main.ts', 150);
    expect(chosen.map((c) => c.path)).toEqual(['b.ts']);
  });

  it('returns everything when the repository fits the budget, and never exceeds it otherwise', () => {
    expect(selectSegments(repo, 'nothing shared', 'main.ts', 400)).toHaveLength(4);
    const sized = [candidate('big.ts', 'rareThing', 300), candidate('small.ts', 'ZodType', 80)];
    // The relevant candidate alone exceeds what is left: it is skipped and a smaller one still fits.
    expect(selectSegments(sized, 'rareThing', 'main.ts', 200).map((c) => c.path)).toEqual(['small.ts']);
    for (const budget of [0, 99, 100, 250, 399]) {
      const chosen = selectSegments(repo, 'checkLowerCaseDef other', 'main.ts', budget);
      expect(chosen.reduce((n, c) => n + c.tokens, 0)).toBeLessThanOrEqual(budget);
    }
  });

  it('breaks ties by the files the local text imports, then by recency', () => {
    const tied = [
      candidate('lib/old.ts', 'shared', 100, 1),
      candidate('lib/recent.ts', 'shared', 100, 5),
      candidate('lib/helpers.ts', 'shared', 100, 0),
    ];
    const local = "import { x } from './lib/helpers';\nshared();";
    expect(selectSegments(tied, local, 'main.ts', 200).map((c) => c.path)).toEqual(['lib/helpers.ts', 'lib/recent.ts']);
  });
});
