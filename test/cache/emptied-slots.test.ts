/**
 * Evicted slots filled instead of dropped: every token stays a slot; kept tokens carry their own keys and values,
 * evicted ones the filler's (same positions) or zeros, and a filler of the wrong length is refused.
 */
import { describe, expect, it } from 'vitest';
import { type CacheConfig, DEFAULT_CACHE_CONFIG } from '../../src/cache/cache-config';
import { dequantizeKeys, dequantizeValues } from '../../src/cache/quantize';
import { compressSegment, type ScoredSegment } from '../../src/cache/segment-prefill';
import { seededRandom } from '../../src/engine/sampling';

const n = 40;
const KV = 2;
const G = 2;
const d = 8;
const W = 8;
const layers = 2;

function scored(seed: number, tokens = n): ScoredSegment {
  const random = seededRandom(seed);
  const fill = (len: number) => Float32Array.from({ length: len }, () => random() * 2 - 1);
  const S = 1 + tokens;
  const probs = () => {
    const p = fill(KV * G * W * S).map(Math.abs);
    for (let r = 0; r < KV * G * W; r++) {
      let sum = 0;
      for (let j = 0; j < S; j++) sum += p[r * S + j]!;
      for (let j = 0; j < S; j++) p[r * S + j]! /= sum;
    }
    return p;
  };
  return {
    input: { ids: Array.from({ length: tokens }, (_, i) => i), headerTokens: 2 },
    shape: { tokens, kvHeads: KV, groupHeads: G, window: W, sinkLen: 1, probeLen: 0 },
    rawKeys: Array.from({ length: layers }, () => fill(tokens * KV * d)),
    rawKeysPreRope: Array.from({ length: layers }, () => fill(tokens * KV * d)),
    rawValues: Array.from({ length: layers }, () => fill(tokens * KV * d)),
    layers: Array.from({ length: layers }, () => ({
      windowProbs: probs(),
      valueNorms: fill(KV * G * tokens).map((x) => Math.abs(x) + 0.1),
    })),
  };
}

const config = (emptiedSlots: CacheConfig['emptiedSlots']): CacheConfig => ({
  ...DEFAULT_CACHE_CONFIG,
  kBits: 16,
  vBits: 16,
  keepRatio: 0.5,
  preRopeKeys: false,
  groupSize: 8,
  emptiedSlots,
});

describe('emptied slots', () => {
  const segment = scored(1);
  const filler = scored(2);
  const dropped = compressSegment(segment, config('drop'), [16, 16]);

  for (const mode of ['zeros', 'filler'] as const) {
    it(`${mode}: every token is a slot, kept ones unchanged, evicted ones ${mode === 'zeros' ? 'zero' : 'the filler'}`, () => {
      const kv = compressSegment(segment, config(mode), [16, 16], undefined, filler);
      for (let l = 0; l < layers; l++) {
        for (let h = 0; h < KV; h++) {
          const head = kv.layers[l]![h]!;
          expect(head.kept.length).toBe(n);
          const keys = dequantizeKeys(head.keys);
          const values = dequantizeValues(head.values);
          const kept = new Set(dropped.layers[l]![h]!.kept);
          expect(kept.size).toBeLessThan(n);
          for (let t = 0; t < n; t++) {
            const from = (t * KV + h) * d;
            const source = kept.has(t) ? segment : mode === 'filler' ? filler : null;
            const k = source ? source.rawKeys[l]!.subarray(from, from + d) : new Float32Array(d);
            const v = source ? source.rawValues[l]!.subarray(from, from + d) : new Float32Array(d);
            expect(Array.from(keys.subarray(t * d, (t + 1) * d))).toEqual(Array.from(k));
            expect(Array.from(values.subarray(t * d, (t + 1) * d))).toEqual(Array.from(v));
          }
        }
      }
    });
  }

  it('refuses a filler of another length', () => {
    expect(() => compressSegment(segment, config('filler'), [16, 16], undefined, scored(3, n - 1))).toThrow(/filler/);
  });
});
