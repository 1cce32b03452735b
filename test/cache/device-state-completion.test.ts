/**
 * Completions over a cached repository with state on the device, forced on the CPU provider: the same text as
 * the host path, the repository block uploaded once per selection (several decode steps and several
 * completions reuse it; another selection uploads again), and the local prompt's state kept on the device from one
 * keystroke to the next.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Tensor } from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type CacheConfig, DEFAULT_CACHE_CONFIG } from '../../src/cache/cache-config';
import { RepositoryCache } from '../../src/cache/repository-cache';
import { DeviceKv } from '../../src/engine/device-kv';
import { DeviceUploads } from '../../src/engine/device-uploads';
import { Engine } from '../../src/engine/engine';
import { CODER_MODEL, TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

const FILES: Record<string, string> = {
  'src/geometry.ts':
    'export interface Point {\n  x: number;\n  y: number;\n}\n\nexport function distance(a: Point, b: Point): number {\n  return Math.hypot(a.x - b.x, a.y - b.y);\n}\n',
  'src/shapes.ts':
    "import { distance, type Point } from './geometry';\n\nexport class Circle {\n  constructor(readonly center: Point, readonly radius: number) {}\n\n  contains(p: Point): boolean {\n    return \n  }\n}\n",
};

function request(file: 'src/shapes.ts' | 'src/geometry.ts', typed = '') {
  const original = FILES[file]!;
  if (file === 'src/shapes.ts') {
    const line = original.split('\n').findIndex((l) => l.includes('return '));
    const text = original.replace('return \n', `return ${typed}\n`);
    return { path: file, text, line, character: '    return '.length + typed.length, maxTokens: 10 };
  }
  const lines = original.split('\n');
  const line = lines.findIndex((l) => l.includes('Math.hypot'));
  return { path: file, text: original, line, character: lines[line]!.indexOf('Math'), maxTokens: 10 };
}

describe.each([
  ['tiny-coder', TINY_MODEL, 'kivi'],
  ['tiny-coder', TINY_MODEL, 'fused'],
  ['coder-15m', CODER_MODEL, 'kivi'],
] as const)('repository completions with device state on %s, %s layout (forced on the CPU)', (_n, modelDir, layout) => {
  let root: string;
  let host: Engine;
  let device: Engine;
  const config: CacheConfig = { ...DEFAULT_CACHE_CONFIG, quantLayout: layout };
  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-devstate-'));
    for (const [rel, text] of Object.entries(FILES)) {
      fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
      fs.writeFileSync(path.join(root, rel), text);
    }
    host = await Engine.load({ modelDir, provider: 'cpu', cacheDir: TEST_CACHE_DIR, deviceState: 'off' });
    device = await Engine.load({ modelDir, provider: 'cpu', cacheDir: TEST_CACHE_DIR, deviceState: 'on' });
  });
  afterAll(async () => {
    await host?.dispose();
    await device?.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  });

  async function open(engine: Engine): Promise<RepositoryCache> {
    const cache = await RepositoryCache.open({ root, engine, config, store: null });
    await cache.scan();
    await cache.prefillPending();
    return cache;
  }

  it('answers what the host path answers, uploading the block once per selection', async () => {
    const requests = [
      request('src/shapes.ts'),
      request('src/shapes.ts', 'dis'), // same selection, resumed local prefill
      request('src/shapes.ts', 'distance('),
      request('src/geometry.ts'), // another file: another selection
      request('src/shapes.ts', 'distance(this.'), // back to the first selection: uploaded again
    ];
    const hostCache = await open(host);
    const expected = [];
    for (const r of requests) expected.push((await hostCache.complete(r)).text);
    await hostCache.dispose();

    const get = vi.spyOn(DeviceUploads.prototype, 'get');
    const writeBack = vi.spyOn(DeviceKv.prototype, 'writeBack');
    const truncate = vi.spyOn(DeviceUploads.prototype, 'truncate');
    const deviceCache = await open(device);
    const uploads: number[] = [];
    for (const [i, r] of requests.entries()) {
      const result = await deviceCache.complete(r);
      expect(result.text).toBe(expected[i]);
      uploads.push((get.mock.contexts.at(-1) as DeviceUploads).uploads);
    }
    expect(new Set(get.mock.contexts).size).toBe(1); // one query session holds the uploads
    // Keystrokes on one selection resume the previous request's state on the device: cut there, never read back.
    expect(deviceCache.reusedPromptTokens).toBeGreaterThan(10);
    expect(truncate).toHaveBeenCalled();
    expect(writeBack).not.toHaveBeenCalled();
    expect(uploads).toEqual([1, 1, 1, 2, 3]);
    // The same tensors while the selection held; released when it changed; the last selection's still live.
    const blocks = await Promise.all(get.mock.results.map((r) => r.value as Promise<Record<string, Tensor>>));
    expect(blocks[1]).toBe(blocks[0]);
    expect(blocks[2]).toBe(blocks[0]);
    expect(Object.values(blocks[0]!).every((t) => t.location === 'none')).toBe(true);
    expect(Object.values(blocks[4]!).every((t) => t.location === 'cpu')).toBe(true);
    expect(expected.some((t) => t.length > 0)).toBe(true);
    await deviceCache.dispose();
    get.mockRestore();
    writeBack.mockRestore();
    truncate.mockRestore();
  });
});
