/**
 * Decoding one token at a time over the growing cache must give the logits of recomputing the whole sequence,
 * at prompt lengths on both sides of prefill chunk boundaries.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_PAST } from '../../src/engine/decoder-session';
import { Engine } from '../../src/engine/engine';
import { prefill } from '../../src/engine/generate';
import { PlainKvCache } from '../../src/engine/kv-cache';
import { argmax, seededRandom } from '../../src/engine/sampling';
import { TEST_CACHE_DIR, TINY_MODEL } from '../helpers/paths';

describe('incremental decoding equals full recomputation', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.load({ modelDir: TINY_MODEL, provider: 'cpu', cacheDir: TEST_CACHE_DIR });
  });
  afterAll(() => engine?.dispose());

  const chunk = 32;
  for (const promptLength of [1, 5, 31, 32, 33, 64, 97]) {
    it(`prompt of ${promptLength} tokens, prefill chunk ${chunk}, 6 decode steps`, async () => {
      const random = seededRandom(promptLength);
      const ids = Array.from({ length: promptLength }, () => Math.floor(random() * 4000));
      const { numLayers, numKvHeads, headDim, vocabSize } = engine.config;
      const cache = new PlainKvCache(numLayers, numKvHeads, headDim, 8);
      let logits = (await prefill(engine.session, cache, ids, { chunk }))!;
      for (let step = 0; step < 6; step++) {
        const full = await engine.session.forward({
          ids,
          positions: ids.map((_, i) => i),
          past: EMPTY_PAST,
          logitIndex: [ids.length - 1],
        });
        let maxDiff = 0;
        for (let i = 0; i < vocabSize; i++) maxDiff = Math.max(maxDiff, Math.abs(full.logits[i]! - logits[i]!));
        expect(maxDiff).toBeLessThan(1e-4);
        const next = argmax(logits);
        ids.push(next);
        const out = await engine.session.forward({
          ids: [next],
          positions: [cache.length],
          past: cache,
          logitIndex: [0],
        });
        cache.append(out.keys, out.values, 1);
        logits = out.logits;
      }
      expect(cache.length).toBe(promptLength + 6);
    });
  }
});
