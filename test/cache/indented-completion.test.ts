/**
 * Completions at an indented cursor through the path the CLI's `complete` and the sidecar share
 * (`RepositoryCache.complete`), on the bundled tiny-coder. Prompted at the cursor, the model starts its answer with
 * more whitespace (the problem); backed up or healed, the answer never repeats the typed indentation. Column 0 and a
 * cursor after code get exactly the answer they got before.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CACHE_CONFIG } from '../../src/cache/cache-config';
import { RepositoryCache } from '../../src/cache/repository-cache';
import { Engine } from '../../src/engine/engine';
import type { IndentHandling } from '../../src/engine/indented-cursor';
import { TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

const FILES: Record<string, string> = {
  'queue.py':
    'import collections\n\n\nclass Queue:\n    def __init__(self, maxsize=0):\n        self._maxsize = maxsize\n' +
    '        self._items = collections.deque()\n\n    def full(self):\n        return 0 < self._maxsize <= len(self._items)\n\n' +
    '    def put_nowait(self, item):\n        if self.full():\n            raise QueueFull\n        self._items.append(item)\n',
  'shapes.ts':
    'export class Circle {\n\tconstructor(readonly radius: number) {}\n\n\tarea(): number {\n\t\tconst r = this.radius;\n' +
    '\t\treturn Math.PI * r * r;\n\t}\n}\n',
};

/** Cursors after the indentation of lines (the rest of the line removed, as after Enter), spaces and tabs. */
const INDENTED = [
  { file: 'queue.py', line: 13, character: 12 },
  { file: 'queue.py', line: 14, character: 8 },
  { file: 'queue.py', line: 9, character: 8 },
  { file: 'queue.py', line: 5, character: 8 },
  { file: 'shapes.ts', line: 5, character: 2 },
  { file: 'shapes.ts', line: 4, character: 2 },
];

describe('completion at an indented cursor (tiny-coder)', () => {
  let engine: Engine;
  let cache: RepositoryCache;
  let root: string;
  beforeAll(async () => {
    engine = await Engine.load({ modelDir: TINY_MODEL, provider: 'cpu', cacheDir: TEST_CACHE_DIR });
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-indent-'));
    for (const [rel, text] of Object.entries(FILES)) fs.writeFileSync(path.join(root, rel), text);
    cache = await RepositoryCache.open({ root, engine, config: DEFAULT_CACHE_CONFIG, store: null });
  });
  afterAll(async () => {
    await cache?.dispose();
    await engine?.dispose();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  /** The file with the cursor's line cut at the cursor, as the editor has it right after Enter. */
  function textAt(file: string, line: number, character: number): string {
    const lines = FILES[file]!.split('\n');
    lines[line] = lines[line]!.slice(0, character);
    return lines.join('\n');
  }

  async function complete(file: string, line: number, character: number, indent: IndentHandling) {
    const text = textAt(file, line, character);
    const r = await cache.complete({ path: file, text, line, character, maxTokens: 12, useRepository: false, indent });
    return r.text;
  }

  it('prompted at the cursor, the model answers with more whitespace (what the handling fixes)', async () => {
    const answers = [];
    for (const c of INDENTED) answers.push(await complete(c.file, c.line, c.character, 'off'));
    expect(answers.filter((a) => /^\s/.test(a)).length).toBeGreaterThanOrEqual(INDENTED.length / 2);
  });

  for (const indent of ['heal', 'backup'] as const) {
    it(`${indent}: the answer continues the line, with no whitespace first`, async () => {
      for (const c of INDENTED) {
        const answer = await complete(c.file, c.line, c.character, indent);
        expect(answer, `${c.file}:${c.line}`).toMatch(/^\S/);
      }
    });
  }

  it('column 0 and a cursor after code get the same answer as without the handling', async () => {
    for (const [file, line, character] of [
      ['queue.py', 13, 0],
      ['shapes.ts', 5, 0],
      ['queue.py', 13, 17],
      ['shapes.ts', 5, 8],
    ] as const) {
      const off = await complete(file, line, character, 'off');
      expect(await complete(file, line, character, 'heal')).toBe(off);
      expect(await complete(file, line, character, 'backup')).toBe(off);
    }
  });
});
