/**
 * The head-major KV cache: its layout, growth, truncation and copies, and the padding the graph is handed with it
 * (slots past the cache's length, masked by the bias) — which must not change a single logit, even when the
 * padded slots hold stale keys of a truncated past.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { causalBias, padPastBias } from '../../src/engine/decoder-session';
import { Engine } from '../../src/engine/engine';
import { prefill } from '../../src/engine/generate';
import { PlainKvCache } from '../../src/engine/kv-cache';
import { seededRandom } from '../../src/engine/sampling';
import { TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

/** Token-major [tokens, KV, d] rows whose value encodes (layer, token, head, channel). */
function rows(layer: number, first: number, tokens: number, KV: number, d: number): Float32Array {
  const out = new Float32Array(tokens * KV * d);
  for (let t = 0; t < tokens; t++)
    for (let h = 0; h < KV; h++)
      for (let c = 0; c < d; c++) out[(t * KV + h) * d + c] = layer * 1e6 + (first + t) * 1e3 + h * 100 + c;
  return out;
}

describe('PlainKvCache layout', () => {
  const KV = 2;
  const d = 3;
  const append = (cache: PlainKvCache, tokens: number) => {
    const first = cache.length;
    const keys = [0, 1].map((l) => rows(l, first, tokens, KV, d));
    cache.append(
      keys,
      keys.map((k) => k.map((x) => -x)),
      tokens,
    );
  };

  it('keeps each head contiguous across appends and growth', () => {
    const cache = new PlainKvCache(2, KV, d, 4);
    append(cache, 3);
    append(cache, 150); // grows past the initial capacity, to a multiple of the block with room to spare
    expect(cache.length).toBe(153);
    expect(cache.capacity).toBeGreaterThanOrEqual(153 + 1);
    expect(cache.capacity % 128).toBe(0);
    for (const l of [0, 1])
      for (let h = 0; h < KV; h++) {
        const keys = cache.headKeys(l, h);
        expect(keys.length).toBe(153 * d);
        for (const t of [0, 2, 3, 152]) expect(keys[t * d + 1]).toBe(l * 1e6 + t * 1e3 + h * 100 + 1);
        const buffer = cache.valuesBuffer(l);
        expect(buffer.length).toBe(KV * cache.capacity * d);
        expect(buffer[(h * cache.capacity + 152) * d + 2]).toBe(-(l * 1e6 + 152e3 + h * 100 + 2));
      }
  });

  it('compacts, clones and truncates without mixing heads', () => {
    const cache = new PlainKvCache(2, KV, d, 16);
    append(cache, 10);
    const compact = cache.compactKeys(1);
    expect(compact.length).toBe(KV * 10 * d);
    expect(compact[(1 * 10 + 9) * d]).toBe(1e6 + 9e3 + 100);
    const copy = cache.clone(5);
    cache.truncate(4);
    const other = [0, 1].map((l) => rows(l, 500, 1, KV, d));
    cache.append(other, other, 1); // overwrites token 4 in the original only
    expect(copy.length).toBe(10);
    expect(copy.headKeys(0, 1)[4 * d]).toBe(4e3 + 100);
    expect(cache.headKeys(0, 1)[4 * d]).toBe(500e3 + 100);
    expect(cache.length).toBe(5);
    expect(() => cache.truncate(6)).toThrow(RangeError);
  });

  it('pads the bias with masked slots between the past and the chunk', () => {
    const bias = causalBias(2, 3); // [2, 5]
    const padded = padPastBias(bias, 2, 3, 6); // [2, 8]
    expect(Array.from(padded.subarray(0, 8))).toEqual([0, 0, 0, -Infinity, -Infinity, -Infinity, 0, -Infinity]);
    expect(Array.from(padded.subarray(8, 16))).toEqual([0, 0, 0, -Infinity, -Infinity, -Infinity, 0, 0]);
    expect(padPastBias(bias, 2, 3, 3)).toBe(bias);
  });
});

describe('padding slots never reach the logits', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.load({ modelDir: TINY_MODEL, provider: 'cpu', cacheDir: TEST_CACHE_DIR });
  });
  afterAll(() => engine?.dispose());

  it('a truncated cache with stale slots decodes as a fresh one of the same length', async () => {
    const random = seededRandom(7);
    const ids = Array.from({ length: 40 }, () => Math.floor(random() * 4000));
    const { numLayers, numKvHeads, headDim } = engine.config;
    const stale = new PlainKvCache(numLayers, numKvHeads, headDim, 8);
    await prefill(engine.session, stale, ids, { chunk: 16 });
    stale.truncate(25); // slots 25..39 keep the old keys and values, and the capacity stays padded
    const fresh = new PlainKvCache(numLayers, numKvHeads, headDim, 25);
    await prefill(engine.session, fresh, ids.slice(0, 25), { chunk: 16 });
    expect(stale.capacity).toBeGreaterThan(fresh.capacity);
    const step = (past: PlainKvCache) =>
      engine.session.forward({ ids: [ids[25]!], positions: [25], past, logitIndex: [0] });
    const [a, b] = [await step(stale), await step(fresh)];
    let maxDiff = 0;
    for (let i = 0; i < a.logits.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a.logits[i]! - b.logits[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
    expect(Array.from(a.keys[1]!)).toEqual(Array.from(b.keys[1]!));
  });
});
