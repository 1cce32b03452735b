/**
 * The repository cache end to end on the bundled model: index, incremental edits that prefill only what
 * changed, a restart that reloads from the store instead of prefilling, and the property that after any sequence
 * of edits the cache equals, bit for bit, a fresh index of the final files.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CacheConfig, DEFAULT_CACHE_CONFIG } from '../../src/cache/cache-config';
import { RepositoryCache } from '../../src/cache/repository-cache';
import { encodeEntry, SegmentStore } from '../../src/cache/store';
import { Engine } from '../../src/engine/engine';
import { seededRandom } from '../../src/engine/sampling';
import { TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

const FILES: Record<string, string> = {
  'src/geometry.ts':
    'export interface Point {\n  x: number;\n  y: number;\n}\n\nexport function distance(a: Point, b: Point): number {\n  return Math.hypot(a.x - b.x, a.y - b.y);\n}\n\nexport function midpoint(a: Point, b: Point): Point {\n  return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };\n}\n',
  'src/shapes.ts':
    "import { distance, type Point } from './geometry';\n\nexport class Circle {\n  constructor(readonly center: Point, readonly radius: number) {}\n\n  contains(p: Point): boolean {\n    return distance(this.center, p) <= this.radius;\n  }\n}\n",
  'tools/report.py':
    'import json\n\n\ndef load_report(path):\n    with open(path) as f:\n        return json.load(f)\n\n\ndef summarize(report):\n    return {k: len(v) for k, v in report.items()}\n',
  '.env': 'SECRET_TOKEN=do-not-index\n',
};

const CONFIG: CacheConfig = DEFAULT_CACHE_CONFIG;

function makeRepo(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-repo-'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

/** Every entry's bytes, by file: what "the cache" is, for comparing two of them. */
function snapshot(cache: RepositoryCache): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [file, keys] of [...cache.fileEntries.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    out[file] = keys.map((k) => {
      const kv = cache.entries.get(k)!.kv!;
      return `${k}:${hash(encodeEntry(kv))}`;
    });
  }
  return out;
}

function hash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

describe('repository cache', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.load({ modelDir: TINY_MODEL, provider: 'cpu', cacheDir: TEST_CACHE_DIR });
  });
  afterAll(() => engine?.dispose());

  async function open(root: string, storeDir: string | null, config: CacheConfig = CONFIG): Promise<RepositoryCache> {
    const store = storeDir ? new SegmentStore(storeDir, { maxBytes: 256 * 1024 * 1024 }) : null;
    const cache = await RepositoryCache.open({
      root,
      engine,
      config,
      store,
      minSegmentTokens: 16,
      maxSegmentTokens: 96,
    });
    await cache.scan();
    await cache.prefillPending();
    return cache;
  }

  it('indexes every file but secrets, and reloads from the store on restart', async () => {
    const root = makeRepo(FILES);
    const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-store-'));
    const first = await open(root, storeDir);
    expect([...first.fileEntries.keys()].sort()).toEqual(['src/geometry.ts', 'src/shapes.ts', 'tools/report.py']);
    expect(first.skipped.map((s) => s.path)).toContain('.env');
    expect(first.misses).toBeGreaterThan(3);
    expect(first.hits).toBe(0);
    const before = snapshot(first);
    await first.dispose();

    const second = await open(root, storeDir);
    expect(second.misses).toBe(0);
    expect(second.hits).toBe(first.misses);
    expect(snapshot(second)).toEqual(before);
    await second.dispose();
    fs.rmSync(storeDir, { recursive: true, force: true });
  });

  it('entries written under the defaults before issue 10 are not read by the new defaults, and still load by the old', async () => {
    // The configuration every store held before the rotation and range-search fields existed (min–max ranges,
    // no rotation, 32-channel key groups, 64-token value blocks, 2-bit keys in every layer the calibration left).
    const previous: CacheConfig = {
      ...DEFAULT_CACHE_CONFIG,
      kvRotation: 'none',
      rangeSearch: 'minmax',
      groupSize: 32,
      valueBlock: 64,
      protectLayers: 'auto',
    };
    expect(previous).not.toEqual(DEFAULT_CACHE_CONFIG);
    const root = makeRepo(FILES);
    const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-store-'));
    const old = await open(root, storeDir, previous);
    const oldSnapshot = snapshot(old);
    await old.dispose();
    // New defaults: every segment is a miss (new keys), prefilled again, and equal to a fresh index.
    const fresh = await open(root, storeDir);
    expect(fresh.hits).toBe(0);
    expect(fresh.misses).toBe(old.misses);
    const reference = await open(root, null);
    expect(snapshot(fresh)).toEqual(snapshot(reference));
    await reference.dispose();
    await fresh.dispose();
    // The old entries were neither overwritten nor refused: the old configuration still reads all of them.
    const again = await open(root, storeDir, previous);
    expect(again.misses).toBe(0);
    expect(snapshot(again)).toEqual(oldSnapshot);
    await again.dispose();
    fs.rmSync(storeDir, { recursive: true, force: true });
  });

  it('an edit prefills only the segments it changed', async () => {
    const root = makeRepo(FILES);
    const cache = await open(root, null);
    const segmentsBefore = cache.entries.size;
    const missesBefore = cache.misses;
    // Change the body of `midpoint` only: one segment of one file.
    const text = FILES['src/geometry.ts']!;
    const at = text.indexOf('(a.y + b.y) / 2');
    const lines = text.slice(0, at).split('\n');
    await cache.applyChanges('src/geometry.ts', 2, [
      {
        range: {
          start: { line: lines.length - 1, character: lines[lines.length - 1]!.length },
          end: { line: lines.length - 1, character: lines[lines.length - 1]!.length + '(a.y + b.y) / 2'.length },
        },
        text: '(a.y + b.y) * 0.5',
      },
    ]);
    expect(cache.pending().length).toBe(1);
    await cache.prefillPending();
    expect(cache.misses - missesBefore).toBe(1);
    expect(cache.entries.size).toBe(segmentsBefore);
    await cache.dispose();
  });

  it('after random edit sequences the cache equals a fresh index of the final files, bit for bit', async () => {
    const random = seededRandom(42);
    for (let sequence = 0; sequence < 6; sequence++) {
      const files = { ...FILES };
      delete files['.env'];
      const root = makeRepo(files);
      const cache = await open(root, null);
      const versions = new Map<string, number>();
      for (let step = 0; step < 6; step++) {
        const paths = Object.keys(files);
        const kind = random();
        if (kind < 0.15) {
          const p = `src/new${sequence}_${step}.ts`;
          files[p] = `export const value${step} = ${step};\n`;
          await cache.setFile(p, files[p]!);
        } else if (kind < 0.25 && paths.length > 1) {
          const p = paths[Math.floor(random() * paths.length)]!;
          delete files[p];
          await cache.setFile(p, null);
        } else {
          const p = paths[Math.floor(random() * paths.length)]!;
          const text = files[p]!;
          const from = Math.floor(random() * text.length);
          const to = Math.min(text.length, from + Math.floor(random() * 12));
          const insert = ['x', '\n', '  // note\n', '', 'return 1;'][Math.floor(random() * 5)]!;
          const next = text.slice(0, from) + insert + text.slice(to);
          // Half the edits arrive from the editor (ranges), half as a whole file changed on disk.
          if (random() < 0.5 && cache.documents.has(p)) {
            const version = (versions.get(p) ?? 0) + 1;
            versions.set(p, version);
            const pos = (o: number) => {
              const before = text.slice(0, o).split('\n');
              return { line: before.length - 1, character: before[before.length - 1]!.length };
            };
            await cache.applyChanges(p, version + 1000, [{ range: { start: pos(from), end: pos(to) }, text: insert }]);
          } else {
            await cache.setFile(p, next);
          }
          files[p] = next;
        }
        if (random() < 0.5) await cache.prefillPending();
      }
      await cache.prefillPending();
      const fresh = await open(makeRepo(files), null);
      expect(snapshot(cache), `sequence ${sequence}`).toEqual(snapshot(fresh));
      await cache.dispose();
      await fresh.dispose();
    }
  });
});
