import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Bits } from '../../src/cache/cache-config';
import { seededUniform } from '../../src/cache/quantize/synthetic';
import type { CachedSegment, SegmentKv } from '../../src/cache/segment-kv';
import {
  decodeEntry,
  encodeEntry,
  entryPath,
  SegmentStore,
  STORE_FORMAT_VERSION,
  versionDir,
} from '../../src/cache/store';
import {
  segmentKvDifference,
  syntheticFusedSegmentKv,
  syntheticSegmentKv,
  type SyntheticKvShape,
} from '../../src/cache/store/synthetic-kv';

const ALL_BITS: Bits[] = [2, 4, 8, 16];
const dirs: string[] = [];

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-store-'));
  dirs.push(dir);
  return dir;
}

afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function key(n: number): string {
  return n.toString(16).padStart(2, '0').repeat(32);
}

function expectSameKv(actual: CachedSegment | null, expected: CachedSegment): void {
  expect(actual).not.toBeNull();
  expect(segmentKvDifference(actual!, expected)).toBeNull();
}

/** A random shape per seed: 1–4 layers, 1–3 heads, mixed bits per layer, empty kept lists included. */
function randomShape(seed: number): SyntheticKvShape {
  const u = seededUniform(seed * 31 + 7);
  const pick = <T>(xs: T[]): T => xs[Math.floor(u() * xs.length)];
  const layers = 1 + Math.floor(u() * 4);
  return {
    layers,
    kvHeads: 1 + Math.floor(u() * 3),
    headDim: pick([8, 16, 32, 64]),
    tokens: pick([0, 1, 5, 33, 100, 300]),
    kBits: Array.from({ length: layers }, () => pick(ALL_BITS)),
    vBits: Array.from({ length: layers }, () => pick(ALL_BITS)),
    groupSize: pick([4, 8, 16, 32, 64]),
    keepRatio: pick([0, 0.3, 0.7, 1]),
    firstPosition: Math.floor(u() * 100),
  };
}

const SMALL: SyntheticKvShape = {
  layers: 2,
  kvHeads: 2,
  headDim: 16,
  tokens: 64,
  kBits: [2, 16],
  vBits: [4],
  groupSize: 16,
  keepRatio: 1,
};

describe('segment entry format', () => {
  it('round-trips random SegmentKvs bit for bit (bits 2/4/8/16, empty kept lists)', () => {
    let empties = 0;
    for (let seed = 0; seed < 60; seed++) {
      const kv = syntheticSegmentKv(seed, randomShape(seed));
      empties += kv.layers.flat().filter((h) => h.kept.length === 0).length;
      const bytes = encodeEntry(kv);
      expect(bytes.length % 8).toBe(0);
      expectSameKv(decodeEntry(bytes), kv);
      // Deterministic: equal objects give equal files.
      expect(Buffer.from(encodeEntry(decodeEntry(bytes))).equals(Buffer.from(bytes))).toBe(true);
    }
    expect(empties).toBeGreaterThan(0);
  });

  it('round-trips fused-layout segments bit for bit (bits 2/4/16, centered keys, empty kept lists)', () => {
    let empties = 0;
    for (let seed = 0; seed < 40; seed++) {
      const shape = randomShape(seed);
      const fusedBits = (bits: Bits[]) => bits.map((b) => (b === 8 ? 4 : b));
      const kv = syntheticFusedSegmentKv(seed, {
        ...shape,
        kBits: fusedBits(shape.kBits),
        vBits: fusedBits(shape.vBits),
        groupSize: 16,
        headDim: 32,
      });
      empties += kv.layers.flat().filter((h) => h.kept.length === 0).length;
      const bytes = encodeEntry(kv);
      const back = decodeEntry(bytes);
      expect(back.layout).toBe('fused');
      expectSameKv(back, kv);
      expect(Buffer.from(encodeEntry(back)).equals(Buffer.from(bytes))).toBe(true);
      // The same tokens in the KIVI layout are a different entry, never confused with it.
      expect(segmentKvDifference(back, syntheticSegmentKv(seed, { ...shape, headDim: 32 }))).toBe('layout');
    }
    expect(empties).toBeGreaterThan(0);
  });

  it('keeps raw float32 bit patterns, high Uint16 kept indices and a segment with no layers', () => {
    const kv = syntheticSegmentKv(3, { ...SMALL, tokens: 60000, keepRatio: 0.001, kBits: [16], vBits: [16] });
    const raw = kv.layers[0][0].keys.raw as Float32Array;
    expect(raw.length).toBeGreaterThan(6 * 16);
    const bitsView = new Uint32Array(raw.buffer, raw.byteOffset, raw.length);
    [0x80000000, 0x7fc00001, 0xffffffff, 0x7f800000, 0xff800000, 0x00000001].forEach((b, i) => (bitsView[i] = b));
    expect(Math.max(...kv.layers.flat().map((h) => h.kept[h.kept.length - 1]))).toBeGreaterThan(32767);
    expectSameKv(decodeEntry(encodeEntry(kv)), kv);
    const none: SegmentKv = { tokens: 0, firstPosition: 0, layers: [] };
    expectSameKv(decodeEntry(encodeEntry(none)), none);
    const noHeads: SegmentKv = { tokens: 7, firstPosition: 4, layers: [[], []] };
    expectSameKv(decodeEntry(encodeEntry(noHeads)), noHeads);
  });

  it('the bit-exact comparison used here does see one-bit, -0 and raw-presence differences', () => {
    const kv = syntheticSegmentKv(9, { ...SMALL, kBits: [16], vBits: [2] });
    const copy = decodeEntry(encodeEntry(kv));
    expect(segmentKvDifference(copy, kv)).toBeNull();
    copy.layers[1][1].values.codes[0] ^= 1;
    expect(segmentKvDifference(copy, kv)).toMatch(/layer 1 head 1 values: codes/);
    const raw = decodeEntry(encodeEntry(kv));
    (raw.layers[0][0].keys.raw as Float32Array)[0] = -0;
    (kv.layers[0][0].keys.raw as Float32Array)[0] = 0;
    expect(segmentKvDifference(raw, kv)).toMatch(/raw/);
    const noRaw = decodeEntry(encodeEntry(kv));
    delete noRaw.layers[0][1].keys.raw;
    expect(segmentKvDifference(noRaw, kv)).toMatch(/raw present/);
  });

  it('decodes from a misaligned buffer', () => {
    const kv = syntheticSegmentKv(5, SMALL);
    const bytes = encodeEntry(kv);
    const shifted = new Uint8Array(bytes.length + 3).subarray(3);
    shifted.set(bytes);
    expectSameKv(decodeEntry(shifted), kv);
  });

  it('refuses to encode a SegmentKv that breaks its invariants', () => {
    const kv = syntheticSegmentKv(1, SMALL);
    const head = kv.layers[0][0];
    const broken: SegmentKv[] = [
      { ...kv, layers: [[{ ...head, kept: head.kept.slice().reverse() }]] },
      { ...kv, layers: [[{ ...head, kept: head.kept.slice(1) }]] },
      { ...kv, tokens: 10 },
      { ...kv, firstPosition: -1 },
      { ...kv, layers: [[{ ...head, keys: { ...head.keys, codes: head.keys.codes.slice(1) } }]] },
      { ...kv, layers: [[{ ...head, values: { ...head.values, bits: 3 as Bits } }]] },
    ];
    for (const b of broken) expect(() => encodeEntry(b)).toThrow(RangeError);
  });
});

describe('SegmentStore', () => {
  it('stores under <dir>/v<version>/<2 hex>/<key>.seg and reads back after reopening', () => {
    const dir = tempDir();
    const store = new SegmentStore(dir, { maxBytes: 1e9 });
    const kvs = Array.from({ length: 20 }, (_, i) => syntheticSegmentKv(i, randomShape(i + 100)));
    kvs.forEach((kv, i) => store.put(key(i), kv));
    const file = path.join(dir, `v${STORE_FORMAT_VERSION}`, '03', `${key(3)}.seg`);
    expect(fs.existsSync(file)).toBe(true);
    const meta = JSON.parse(fs.readFileSync(path.join(versionDir(dir, STORE_FORMAT_VERSION), 'meta.json'), 'utf8'));
    expect(meta.formatVersion).toBe(STORE_FORMAT_VERSION);
    expect(Number.isNaN(Date.parse(meta.created))).toBe(false);

    const reopened = new SegmentStore(dir, { maxBytes: 1e9 });
    expect(reopened.meta).toEqual(meta);
    const onDisk = kvs.reduce((sum, _, i) => sum + fs.statSync(entryPath(reopened.root, key(i))).size, 0);
    expect(reopened.stats()).toEqual({ entries: 20, bytes: onDisk, hits: 0, misses: 0, corrupt: 0 });
    kvs.forEach((kv, i) => expectSameKv(reopened.get(key(i)), kv));
    expect(reopened.get(key(99))).toBeNull();
    expect(reopened.stats()).toMatchObject({ hits: 20, misses: 1, corrupt: 0 });
  });

  it('has, delete, replace, clear; sees entries written by another instance', () => {
    const dir = tempDir();
    const a = new SegmentStore(dir, { maxBytes: 1e9 });
    const b = new SegmentStore(dir, { maxBytes: 1e9 });
    const kv1 = syntheticSegmentKv(1, SMALL);
    const kv2 = syntheticSegmentKv(2, { ...SMALL, layers: 3 });
    a.put(key(1), kv1);
    expect(b.has(key(1))).toBe(true);
    expectSameKv(b.get(key(1)), kv1);
    a.put(key(1), kv2);
    expectSameKv(b.get(key(1)), kv2);
    expect(a.stats().bytes).toBe(fs.statSync(entryPath(a.root, key(1))).size);
    expect(b.delete(key(1))).toBe(true);
    expect(b.delete(key(1))).toBe(false);
    expect(a.has(key(1))).toBe(false);
    expect(a.get(key(1))).toBeNull();
    a.put(key(2), kv1);
    a.put(key(3), kv1);
    a.clear();
    expect(a.stats()).toMatchObject({ entries: 0, bytes: 0 });
    expect(a.has(key(2))).toBe(false);
    expect(fs.existsSync(path.join(a.root, 'meta.json'))).toBe(true);
    expect(() => a.get('../../etc/passwd')).toThrow(TypeError);
    expect(() => a.put(key(0xab).toUpperCase(), kv1)).toThrow(TypeError);
  });

  it('never leaves a file for a SegmentKv it refuses, nor for one larger than the bound', () => {
    const dir = tempDir();
    const kv = syntheticSegmentKv(1, SMALL);
    const store = new SegmentStore(dir, { maxBytes: encodeEntry(kv).length - 1 });
    store.put(key(1), kv);
    expect(store.has(key(1))).toBe(false);
    expect(() => store.put(key(2), { ...kv, tokens: 1 })).toThrow(RangeError);
    expect(fs.readdirSync(store.root)).toEqual(['meta.json']);
  });

  it('ignores other format versions and removes them on request', () => {
    const dir = tempDir();
    const old = path.join(dir, 'v0', key(1).slice(0, 2));
    fs.mkdirSync(old, { recursive: true });
    fs.writeFileSync(path.join(old, `${key(1)}.seg`), 'old format');
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not ours');
    const store = new SegmentStore(dir, { maxBytes: 1e9 });
    expect(store.stats().entries).toBe(0);
    expect(store.get(key(1))).toBeNull();
    expect(store.removeOtherVersions()).toEqual(['v0']);
    expect(fs.readdirSync(dir).sort()).toEqual(['notes.txt', `v${STORE_FORMAT_VERSION}`]);
  });

  it('removes temp files of dead or own writers at open, keeps a live writer’s fresh one', () => {
    const dir = tempDir();
    const root = new SegmentStore(dir, { maxBytes: 1e9 }).root;
    const shard = path.join(root, 'ab');
    fs.mkdirSync(shard);
    const temp = (pid: number, tag: string) => path.join(shard, `.${'ab'.repeat(32)}.${pid}.${tag}.tmp`);
    const dead = temp(2 ** 22 + 12345, '01'); // above Linux's pid_max default: never a live pid
    const own = temp(process.pid, '02');
    const live = temp(process.ppid, '03');
    const liveButOld = temp(process.ppid, '04');
    for (const f of [dead, own, live, liveButOld]) fs.writeFileSync(f, 'partial');
    const hourAgo = Date.now() / 1000 - 3600;
    fs.utimesSync(liveButOld, hourAgo, hourAgo);
    new SegmentStore(dir, { maxBytes: 1e9 });
    expect(fs.readdirSync(shard)).toEqual([path.basename(live)]);
  });
});

describe('SegmentStore least-recently-used collection', () => {
  const entrySize = encodeEntry(syntheticSegmentKv(0, SMALL)).length;
  const kvOf = (i: number) => syntheticSegmentKv(i, SMALL); // keepRatio 1: every entry has the same size

  it('removes the least recently used entry first and stays under the bound', () => {
    const store = new SegmentStore(tempDir(), { maxBytes: Math.floor(3.5 * entrySize) });
    [1, 2, 3].forEach((i) => store.put(key(i), kvOf(i)));
    expect(store.get(key(1))).not.toBeNull();
    store.put(key(4), kvOf(4));
    expect([1, 2, 3, 4].map((i) => store.has(key(i)))).toEqual([true, false, true, true]);
    expect(store.stats()).toMatchObject({ entries: 3, bytes: 3 * entrySize });
  });

  it('keeps recency across a restart (file mtimes)', () => {
    const dir = tempDir();
    const first = new SegmentStore(dir, { maxBytes: 1e9 });
    [1, 2, 3].forEach((i) => first.put(key(i), kvOf(i)));
    first.get(key(1));
    const second = new SegmentStore(dir, { maxBytes: Math.floor(2.5 * entrySize) });
    expect([1, 2, 3].map((i) => second.has(key(i)))).toEqual([true, false, true]);
    expect(second.stats().bytes).toBeLessThanOrEqual(second.maxBytes);
  });

  it('matches a reference LRU over random puts and gets', () => {
    const store = new SegmentStore(tempDir(), { maxBytes: 5 * entrySize });
    const reference: number[] = []; // least recently used first
    const u = seededUniform(42);
    for (let step = 0; step < 300; step++) {
      const i = Math.floor(u() * 12);
      const at = reference.indexOf(i);
      if (u() < 0.5) {
        store.put(key(i), kvOf(i));
        if (at >= 0) reference.splice(at, 1);
        reference.push(i);
        if (reference.length > 5) reference.shift();
      } else {
        const got = store.get(key(i));
        expect(got !== null, `step ${step}`).toBe(at >= 0);
        if (at >= 0) reference.push(...reference.splice(at, 1));
      }
      const present = Array.from({ length: 12 }, (_, k) => k).filter((k) =>
        fs.existsSync(entryPath(store.root, key(k))),
      );
      expect(present, `step ${step}`).toEqual([...reference].sort((a, b) => a - b));
      expect(store.stats().bytes).toBeLessThanOrEqual(store.maxBytes);
    }
  });
});
