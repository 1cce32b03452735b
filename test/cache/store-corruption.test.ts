import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seededUniform } from '../../src/cache/quantize/synthetic';
import type { CachedSegment } from '../../src/cache/segment-kv';
import {
  CorruptEntryError,
  decodeEntry,
  encodeEntry,
  ENTRY_HEADER_BYTES,
  entryPath,
  SegmentStore,
} from '../../src/cache/store';
import { syntheticFusedSegmentKv, syntheticSegmentKv, type SyntheticKvShape } from '../../src/cache/store/synthetic-kv';

const SHAPE: SyntheticKvShape = {
  layers: 3,
  kvHeads: 2,
  headDim: 16,
  tokens: 80,
  kBits: [2, 16, 8],
  vBits: [4, 2, 16],
  groupSize: 16,
  keepRatio: 0.6,
};
/** One entry per storage layout; the fused one at the bits MatMulNBits reads (2, 4, 16). */
const LAYOUTS = [
  { layout: 'kivi', kv: syntheticSegmentKv(11, SHAPE) as CachedSegment, blockWords: 9 },
  {
    layout: 'fused',
    kv: syntheticFusedSegmentKv(11, { ...SHAPE, kBits: [2, 16, 4], vBits: [4, 2, 16] }) as CachedSegment,
    blockWords: 11,
  },
];
const KEY = 'c0'.repeat(32);
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-store-corrupt-'));

afterAll(() => fs.rmSync(DIR, { recursive: true, force: true }));

type Damage = { name: string; bytes: Uint8Array };

/** Single and multiple byte flips anywhere (header and payload), truncations, an empty file, appended bytes. */
function damaged(seed: number, GOOD: Uint8Array): Damage {
  const u = seededUniform(seed);
  const int = (n: number) => Math.floor(u() * n);
  const bytes = GOOD.slice();
  switch (seed % 6) {
    case 0: {
      const at = int(ENTRY_HEADER_BYTES);
      bytes[at] ^= 1 + int(255);
      return { name: `header byte ${at}`, bytes };
    }
    case 1:
    case 2: {
      const at = ENTRY_HEADER_BYTES + int(GOOD.length - ENTRY_HEADER_BYTES);
      bytes[at] ^= 1 << int(8);
      return { name: `payload bit at ${at}`, bytes };
    }
    case 3: {
      for (let k = 0; k < 1 + int(20); k++) bytes[int(bytes.length)] ^= 1 + int(255);
      // Random flips of one byte can cancel out; make sure the result still differs.
      if (Buffer.from(bytes).equals(Buffer.from(GOOD))) bytes[int(bytes.length)] ^= 0x80;
      return { name: 'many bytes', bytes };
    }
    case 4: {
      const length = seed % 24 === 4 ? 0 : int(GOOD.length);
      return { name: `truncated to ${length}`, bytes: GOOD.slice(0, length) };
    }
    default: {
      const extra = Uint8Array.from({ length: 1 + int(16) }, () => int(256));
      return { name: `+${extra.length} bytes`, bytes: Uint8Array.from([...GOOD, ...extra]) };
    }
  }
}

describe.each(LAYOUTS)('corrupt segment entries ($layout layout)', ({ kv: KV, blockWords }) => {
  const GOOD = encodeEntry(KV);

  it('decodeEntry throws CorruptEntryError for every damaged entry', () => {
    for (let seed = 0; seed < 600; seed++) {
      const { name, bytes } = damaged(seed, GOOD);
      expect(() => decodeEntry(bytes), `seed ${seed}: ${name}`).toThrow(CorruptEntryError);
    }
  });

  it('get returns null, deletes the file and counts it, never throwing', () => {
    const store = new SegmentStore(DIR, { maxBytes: 1e9 });
    const file = entryPath(store.root, KEY);
    const seeds = 300;
    for (let seed = 0; seed < seeds; seed++) {
      const { name, bytes } = damaged(seed, GOOD);
      store.put(KEY, KV);
      fs.writeFileSync(file, bytes);
      expect(store.get(KEY), `seed ${seed}: ${name}`).toBeNull();
      expect(fs.existsSync(file), `seed ${seed}: ${name}`).toBe(false);
      expect(store.has(KEY)).toBe(false);
    }
    expect(store.stats()).toMatchObject({ corrupt: seeds, misses: seeds, hits: 0, entries: 0, bytes: 0 });
    // A zero-length file in particular, found at open rather than written through the store.
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, '');
    const reopened = new SegmentStore(DIR, { maxBytes: 1e9 });
    expect(reopened.stats().entries).toBe(1);
    expect(reopened.get(KEY)).toBeNull();
    expect(reopened.stats()).toMatchObject({ entries: 0, corrupt: 1 });
  });

  it('a re-signed entry with a rewritten directory is refused or decodes to exactly its own bytes', () => {
    // Words in the directory: 3 + layers + heads · (1 + 2 · blockWords). The checksum is recomputed after each change,
    // so only the length and shape validation stands between these bytes and an out-of-bounds read.
    const heads = SHAPE.layers * SHAPE.kvHeads;
    const dirWords = 3 + SHAPE.layers + heads * (1 + 2 * blockWords);
    const u = seededUniform(7);
    let refused = 0;
    let accepted = 0;
    for (let trial = 0; trial < 2000; trial++) {
      const bytes = GOOD.slice();
      const view = new DataView(bytes.buffer);
      for (let k = 0; k < 1 + Math.floor(u() * 3); k++) {
        const at = ENTRY_HEADER_BYTES + 4 * Math.floor(u() * dirWords);
        const old = view.getUint32(at, true);
        const choices = [0, 1, 2, 3, 16, old + 1, old - 1, old * 2, 0x7fffffff, 0xffffffff, Math.floor(u() * 2 ** 32)];
        view.setUint32(at, choices[Math.floor(u() * choices.length)] >>> 0, true);
      }
      bytes.set(createHash('sha256').update(bytes.subarray(ENTRY_HEADER_BYTES)).digest(), 16);
      let kv: CachedSegment;
      try {
        kv = decodeEntry(bytes);
      } catch (err) {
        expect(err, `trial ${trial}`).toBeInstanceOf(CorruptEntryError);
        refused++;
        continue;
      }
      accepted++;
      expect(Buffer.from(encodeEntry(kv)).equals(Buffer.from(bytes)), `trial ${trial}`).toBe(true);
    }
    expect(refused).toBeGreaterThan(1500);
    // Some rewrites are legitimate SegmentKvs (tokens or firstPosition raised): fine, as long as they are exact.
    expect(accepted).toBeGreaterThan(0);
  });
});
