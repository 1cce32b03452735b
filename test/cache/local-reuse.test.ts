/**
 * Reuse of the local context's prefill across keystrokes: the bookkeeping (what is reused, when nothing is), and
 * end to end on the bundled model that a completion resumed from the previous keystroke's cache answers exactly
 * what a fresh cache answers.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CACHE_CONFIG } from '../../src/cache/cache-config';
import { LocalPrefillReuse } from '../../src/cache/local-reuse';
import { PREFIX_GRID_CHARS, tailByTokens } from '../../src/cache/prompts';
import { RepositoryCache } from '../../src/cache/repository-cache';
import { Engine } from '../../src/engine/engine';
import { PlainKvCache } from '../../src/engine/kv-cache';
import { TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

function filled(tokens: number): PlainKvCache {
  const c = new PlainKvCache(1, 1, 2);
  const rows = Float32Array.from({ length: tokens * 2 }, (_, i) => i);
  c.append([rows], [rows], tokens);
  return c;
}

describe('LocalPrefillReuse', () => {
  it('reuses the common prefix, always leaves a token to prefill, and hands the cache over once', () => {
    const reuse = new LocalPrefillReuse();
    // sink 2 + prompt [1,2,3,4,5] + 3 generated tokens
    reuse.keep('block', [1, 2, 3, 4, 5], filled(10), 2);
    const r = reuse.take('block', [1, 2, 3, 9, 9, 9], 2);
    expect(r?.reused).toBe(3);
    expect(r?.cache.length).toBe(5);
    expect(reuse.take('block', [1, 2, 3, 9], 2)).toBeNull(); // taken: never shared by two requests

    reuse.keep('block', [1, 2, 3], filled(8), 2);
    expect(reuse.take('block', [1, 2, 3], 2)?.reused).toBe(2); // identical prompt: the last token runs again
  });

  it('reuses nothing over another block, another sink, or without a common token', () => {
    const reuse = new LocalPrefillReuse();
    reuse.keep('a', [1, 2, 3], filled(8), 2);
    expect(reuse.take('b', [1, 2, 3, 4], 2)).toBeNull();
    reuse.keep('a', [1, 2, 3], filled(8), 2);
    expect(reuse.take('a', [1, 2, 3, 4], 4)).toBeNull();
    reuse.keep('a', [1, 2, 3], filled(8), 2);
    expect(reuse.take('a', [7, 2, 3, 4], 2)).toBeNull();
  });

  it('never reuses rows an aborted request did not fill', () => {
    const reuse = new LocalPrefillReuse();
    reuse.keep('a', [1, 2, 3, 4, 5, 6], filled(4), 2); // only 2 prompt tokens were prefilled
    expect(reuse.take('a', [1, 2, 3, 4, 5, 6, 7], 2)?.reused).toBe(2);
  });
});

const FILES: Record<string, string> = {
  'src/geometry.ts':
    'export interface Point {\n  x: number;\n  y: number;\n}\n\nexport function distance(a: Point, b: Point): number {\n  return Math.hypot(a.x - b.x, a.y - b.y);\n}\n',
  'src/shapes.ts':
    "import { distance, type Point } from './geometry';\n\nexport class Circle {\n  constructor(readonly center: Point, readonly radius: number) {}\n\n  contains(p: Point): boolean {\n    return \n  }\n}\n",
};

describe('completions resumed from the previous keystroke', () => {
  let engine: Engine;
  let root: string;
  beforeAll(async () => {
    engine = await Engine.load({ modelDir: TINY_MODEL, provider: 'cpu', cacheDir: TEST_CACHE_DIR });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-reuse-'));
    for (const [rel, text] of Object.entries(FILES)) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text);
    }
  });
  afterAll(() => engine?.dispose());

  async function open(): Promise<RepositoryCache> {
    const cache = await RepositoryCache.open({ root, engine, config: DEFAULT_CACHE_CONFIG, store: null });
    await cache.scan();
    await cache.prefillPending();
    return cache;
  }

  it("a completion's prefix window keeps its start while text is typed at its end", () => {
    const base = Array.from({ length: 300 }, (_, i) => `const value${i} = compute(${i});`).join('\n') + '\n';
    const starts = (grid: number) => {
      const seen = new Set<number>();
      for (let k = 0; k < 120; k += 3) {
        const text = base + 'result'.repeat(k).slice(0, k);
        const cut = tailByTokens(engine, text, 200, grid);
        expect(engine.encode(cut).length).toBeLessThanOrEqual(200);
        expect(text.endsWith(cut)).toBe(true);
        seen.add(text.length - cut.length);
      }
      return seen.size;
    };
    expect(starts(PREFIX_GRID_CHARS)).toBeLessThanOrEqual(2);
    expect(starts(0)).toBeGreaterThan(3); // without the grid it follows every line the end moves past
  });

  it('answers what a fresh cache answers, prefilling only the changed tail', async () => {
    const original = FILES['src/shapes.ts']!;
    const line = original.split('\n').findIndex((l) => l.includes('return '));
    const typed = ['', 'dis', 'distance(', 'distance(this.'];
    const resumed = await open();
    const answers: string[] = [];
    for (const t of typed) {
      const text = original.replace('return \n', `return ${t}\n`);
      const character = '    return '.length + t.length;
      const request = { path: 'src/shapes.ts', text, line, character, maxTokens: 12 };
      const before = resumed.reusedPromptTokens;
      const r = await resumed.complete(request);
      if (t) expect(resumed.reusedPromptTokens - before).toBeGreaterThan(10);
      const fresh = await open();
      const f = await fresh.complete(request);
      expect(fresh.reusedPromptTokens).toBe(0);
      await fresh.dispose();
      expect(r.text).toBe(f.text);
      answers.push(r.text);
    }
    expect(answers.some((a) => a.length > 0)).toBe(true);
    await resumed.dispose();
  });
});
