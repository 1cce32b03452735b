/**
 * The graph cache heals itself: every graph variant the runtime builds (plain, scoring, fused capacity classes,
 * KIVI compressed attention, their device-state forms, and whatever a later builder adds, found by listing the cache rather than named
 * here) is damaged in turn (model.onnx and weights.bin, truncated and bit-flipped), and the next run rebuilds
 * it with one log line and reproduces the logits of the undamaged cache exactly. All of it twice: with float32
 * activations and with the fp16 graphs GPU providers run (kernels/float16-graph.ts), each in its own cache.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CacheConfig, DEFAULT_CACHE_CONFIG } from '../../src/cache/cache-config';
import { targetLogits } from '../../src/cache/query-context';
import { CacheRuntime } from '../../src/cache/runtime';
import { EMPTY_PAST } from '../../src/engine/decoder-session';
import { Engine } from '../../src/engine/engine';
import { loadCheckpoint } from '../../src/engine/checkpoint';
import { graphKey } from '../../src/engine/graph-cache';
import { checkGraphDir, MANIFEST_FILE, rememberVerified } from '../../src/engine/graph-manifest';
import { TINY_MODEL } from '../helpers/paths';

const ROOT = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-graph-heal-'));
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));
/** Set by each describe block below before its tests run (vitest runs a file's blocks one after another). */
let cacheDir = '';
let activations: 'float32' | 'float16' = 'float32';

const SOURCES = [
  {
    path: 'a/utils.py',
    text: 'def normalize(text):\n    return " ".join(text.split())\n\n\ndef count(text):\n    return 1\n',
  },
  { path: 'a/stack.py', text: 'class Stack:\n    def __init__(self):\n        self.items = []\n' },
];
const LOCAL = '<|file_sep|>a/main.py\nfrom a.utils import normalize\n\n\ndef clean(lines):\n    return [';
const TARGET = 'normalize(line) for line in lines]\n';

/**
 * Loads everything from the cache and computes logits through every graph variant, the device-state ones (forced
 * on the CPU) included; returns them and the log.
 */
async function run(): Promise<{ logits: number[][]; lines: string[] }> {
  const lines: string[] = [];
  const logits: number[][] = [];
  // The device-state forms are damaged with float32 activations only: each variant costs this file a full run per
  // damage, and the fp16 pass treats the device-state outputs like any other (test/kernels/float16-graph.test.ts).
  const states = activations === 'float32' ? (['off', 'on'] as const) : (['off'] as const);
  for (const deviceState of states) await runEngine(deviceState, logits, lines);
  return { logits, lines };
}

async function runEngine(deviceState: 'off' | 'on', logits: number[][], lines: string[]): Promise<void> {
  const log = (l: string) => lines.push(l);
  const engine = await Engine.load({ modelDir: TINY_MODEL, provider: 'cpu', cacheDir, log, activations, deviceState });
  try {
    const plain = await engine.session.forward({
      ids: [1, 2, 3],
      positions: [0, 1, 2],
      past: EMPTY_PAST,
      logitIndex: [2],
    });
    logits.push(Array.from(plain.logits));
    for (const quantLayout of ['fused', 'kivi'] as const) {
      const config: CacheConfig = { ...DEFAULT_CACHE_CONFIG, quantLayout };
      const runtime = await CacheRuntime.create(engine, config, 'demo', log);
      try {
        await runtime.warmUp();
        const kvs = await Promise.all(SOURCES.map((s) => runtime.prefill(s)));
        const ctx = await runtime.queryContext(kvs);
        logits.push(Array.from(await targetLogits(ctx, engine.encode(LOCAL), engine.encode(TARGET))));
        // The same segments 24 times over need more than 1,024 slots: a second fused capacity class.
        const wide = await runtime.queryContext(Array<typeof kvs>(24).fill(kvs).flat());
        logits.push(Array.from(await targetLogits(wide, engine.encode(LOCAL), engine.encode(TARGET))));
      } finally {
        await runtime.dispose();
      }
    }
  } finally {
    await engine.dispose();
  }
}

const graphDirs = () =>
  fs
    .readdirSync(path.join(cacheDir, 'graphs'))
    .filter((n) => n !== 'weights')
    .map((n) => path.join(cacheDir, 'graphs', n));

const truncate = (file: string) => fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
function flipBit(file: string): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const at = Math.floor(fs.fstatSync(fd).size * 0.6);
    const byte = Buffer.alloc(1);
    fs.readSync(fd, byte, 0, 1, at);
    byte[0]! ^= 0x10;
    fs.writeSync(fd, byte, 0, 1, at);
  } finally {
    fs.closeSync(fd);
  }
}

const repairs = (lines: string[]) => lines.filter((l) => l.includes('was damaged'));

describe.each(['float32', 'float16'] as const)('graph cache healing (%s activations)', (precision) => {
  let reference: number[][];
  let dirs: string[];

  beforeAll(async () => {
    activations = precision;
    cacheDir = path.join(ROOT, precision);
    const first = await run();
    reference = first.logits;
    dirs = graphDirs();
    expect(repairs(first.lines)).toEqual([]);
  });

  it('the runtime built several variants that share one weights file', () => {
    // plain, scoring, two fused capacity classes, the KIVI query graph; with float32 activations also all but
    // scoring in device-state form
    expect(dirs.length).toBeGreaterThanOrEqual(precision === 'float32' ? 9 : 5);
    expect(fs.readdirSync(path.join(cacheDir, 'graphs', 'weights')).filter((f) => f.endsWith('.bin'))).toHaveLength(1);
    for (const dir of dirs) expect(checkGraphDir(dir, true)).toBeNull();
  });

  const damages = [
    ['truncated', truncate],
    ['bit-flipped', flipBit],
  ] as const;
  const sharedInodes = () => new Set(graphDirs().map((d) => fs.statSync(path.join(d, 'weights.bin')).ino));

  for (const [how, damage] of damages) {
    it(`heals a ${how} model.onnx in every variant and reproduces the logits`, async () => {
      for (const dir of dirs) {
        damage(path.join(dir, 'model.onnx'));
        expect(checkGraphDir(dir)).toMatch(/^model\.onnx /);
        const { logits, lines } = await run();
        expect(repairs(lines)).toEqual([expect.stringContaining(path.basename(dir))]);
        expect(logits).toEqual(reference);
        for (const d of graphDirs()) expect(checkGraphDir(d, true)).toBeNull();
        expect(graphDirs().sort()).toEqual([...dirs].sort()); // nothing left aside
      }
    });

    it(`heals a ${how} shared weights file and every variant linked to it, with one line`, async () => {
      // Every variant's weights.bin is one file (hard links): damaging it through any of them damages all.
      expect(sharedInodes().size).toBe(1);
      damage(path.join(dirs[dirs.length - 1]!, 'weights.bin'));
      for (const dir of dirs) expect(checkGraphDir(dir)).toMatch(/^weights\.bin /);
      const { logits, lines } = await run();
      // The first variant opened finds the damage, rebuilds, replaces the shared copy and relinks the others.
      expect(repairs(lines)).toEqual([expect.stringContaining(`${dirs.length - 1} other variant(s) relinked`)]);
      expect(logits).toEqual(reference);
      for (const d of graphDirs()) expect(checkGraphDir(d, true)).toBeNull();
      expect(sharedInodes().size).toBe(1);
      const shared = fs.readdirSync(path.join(cacheDir, 'graphs', 'weights')).filter((f) => f.endsWith('.bin'));
      expect(shared).toHaveLength(1);
      expect(fs.statSync(path.join(cacheDir, 'graphs', 'weights', shared[0]!)).ino).toBe([...sharedInodes()][0]);
    });
  }

  it('rebuilds graphs written before manifests existed, once', async () => {
    for (const dir of dirs) fs.rmSync(path.join(dir, MANIFEST_FILE));
    const { logits, lines } = await run();
    expect(repairs(lines)).toHaveLength(dirs.length);
    expect(repairs(lines).every((l) => l.includes('no manifest'))).toBe(true);
    expect(logits).toEqual(reference);
    expect(repairs((await run()).lines)).toEqual([]);
  });

  it('a graph whose damage the quick check cannot see is hashed in full when it fails to open', async () => {
    // Damage under an unchanged stat (as media decay would leave it): garble the plain graph's header, then
    // let its stamp say it was verified in this state, so only a failed open can reveal it.
    const plain = { exposeHiddenStates: false, ...(precision === 'float16' ? { activations: precision } : {}) };
    const plainDir = path.join(cacheDir, 'graphs', graphKey(loadCheckpoint(TINY_MODEL), plain));
    const fd = fs.openSync(path.join(plainDir, 'model.onnx'), 'r+');
    fs.writeSync(fd, Buffer.alloc(64, 0xff), 0, 64, 0);
    fs.closeSync(fd);
    rememberVerified(plainDir, ['model.onnx']);
    expect(checkGraphDir(plainDir)).toBeNull();
    const { logits, lines } = await run();
    expect(repairs(lines)).toEqual([expect.stringContaining('model.onnx does not match its checksum')]);
    expect(logits).toEqual(reference);
  });
});
