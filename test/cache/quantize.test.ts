import { describe, expect, it } from 'vitest';
import type { Bits } from '../../src/cache/cache-config';
import { f16BitsToF32 } from '../../src/engine/safetensors';
import {
  dequantizeKeys,
  dequantizeValues,
  quantizeKeys,
  quantizeValues,
  type PackedBits,
  type QuantizedBlock,
} from '../../src/cache/quantize';
import { syntheticBlock } from '../../src/cache/quantize/synthetic';

const PACKED: PackedBits[] = [2, 4, 8];
const GROUPS = [16, 32, 64, 128];

/** Qwen-like keys: Gaussian bulk, outlier channels at ±50–200, constant channels (fp16-exact and not). */
function keyLike(tokens: number, d: number, seed: number): Float32Array {
  return syntheticBlock(tokens, d, seed, {
    outlierChannels: [1, 17, d - 2],
    constantChannels: [
      [5, 0],
      [9, 3.5],
      [d - 5, 0.1],
    ],
  });
}

/** The stored scale of the group holding (t, c). */
function scaleOf(q: QuantizedBlock, t: number, c: number): number {
  const d = q.channels;
  const at =
    q.kind === 'keys' ? Math.floor(t / q.groupSize) * d + c : t * (d / q.groupSize) + Math.floor(c / q.groupSize);
  return f16BitsToF32(q.scales[at]);
}

/**
 * Asserts |x − x̂| ≤ scale16/2 + slack element-wise, slack = one float32 rounding of x̂ (≤ |x̂|·2^-24, doubled for
 * margin) plus a 1e-9 relative allowance for the float64 rounding of (x − min)·(1/scale) at an exact tie.
 * Returns the worst |x − x̂| / (scale16/2) over elements with a nonzero scale, to show the bound is tight.
 */
function expectHalfStepBound(original: Float32Array, q: QuantizedBlock, deq: Float32Array): number {
  let violations = 0;
  let first = '';
  let worst = 0;
  for (let t = 0; t < q.tokens; t++) {
    for (let c = 0; c < q.channels; c++) {
      const i = t * q.channels + c;
      const s = scaleOf(q, t, c);
      const err = Math.abs(original[i] - deq[i]);
      const bound = (s / 2) * (1 + 1e-9) + Math.max(Math.abs(original[i]), Math.abs(deq[i])) * 2 ** -23;
      if (!(err <= bound)) {
        violations++;
        first ||= `(t=${t}, c=${c}) x=${original[i]} x̂=${deq[i]} scale=${s}`;
      }
      if (s > 0) worst = Math.max(worst, err / (s / 2));
    }
  }
  expect(violations, first).toBe(0);
  return worst;
}

describe.each([64, 128])('half-step error bound, d = %i', (d) => {
  const tokens = 100; // not a multiple of any group size: every configuration has a tail group
  const block = keyLike(tokens, d, d);
  const gauss = syntheticBlock(tokens, d, d + 1);

  for (const bits of PACKED) {
    for (const groupSize of GROUPS) {
      it(`keys and values, ${bits} bits, group ${groupSize}`, () => {
        const qk = quantizeKeys(block, tokens, d, bits, groupSize);
        const worstK = expectHalfStepBound(block, qk, dequantizeKeys(qk));
        const qv = quantizeValues(block, tokens, d, bits, groupSize);
        expectHalfStepBound(block, qv, dequantizeValues(qv));
        // Random data lands near a step's midpoint somewhere, so the bound is tight, not vacuous. Not for values
        // on this block: every token's channel group holds an outlier, its step dwarfs the Gaussian bulk, and the
        // bulk sits at nearly the same place in one cell for every token; plain Gaussian values show it instead.
        const qg = quantizeValues(gauss, tokens, d, bits, groupSize);
        const worstV = expectHalfStepBound(gauss, qg, dequantizeValues(qg));
        expect(worstK).toBeGreaterThan(0.9);
        expect(worstV).toBeGreaterThan(0.9);
      });
    }
  }

  it('constant channels that fp16 represents come back exactly (keys: scale 0)', () => {
    for (const bits of PACKED) {
      const q = quantizeKeys(block, tokens, d, bits, 32);
      const deq = dequantizeKeys(q);
      for (let t = 0; t < tokens; t++) {
        expect(deq[t * d + 5]).toBe(0);
        expect(deq[t * d + 9]).toBe(3.5);
      }
      for (let g = 0; g < Math.ceil(tokens / 32); g++) expect(q.scales[g * d + 5]).toBe(0);
    }
  });

  it('values: groupSize above d is capped at d', () => {
    const q = quantizeValues(block, tokens, d, 2, 4 * d);
    expect(q.groupSize).toBe(d);
    expect(q.mins.length).toBe(tokens);
    expectHalfStepBound(block, q, dequantizeValues(q));
  });
});

describe('16 bits: stored as float32, exact', () => {
  it('round-trips bit for bit and does not alias the caller buffer', () => {
    const d = 64;
    const block = keyLike(37, d, 3);
    const keep = block.slice();
    const qk = quantizeKeys(block, 37, d, 16, 32);
    const qv = quantizeValues(block, 37, d, 16, 32);
    expect(qk.codes.length + qk.mins.length + qk.scales.length).toBe(0);
    block.fill(7); // later writes to the caller's buffer must not reach the cache
    expect(dequantizeKeys(qk)).toEqual(keep);
    expect(dequantizeValues(qv)).toEqual(keep);
  });
});

describe.each([1, 5, 31])('key tail group of %i tokens', (tail) => {
  const d = 64;
  const groupSize = 32;
  const tokens = 2 * groupSize + tail;
  const block = keyLike(tokens, d, 40 + tail);

  it('is quantized from its real tokens only and records the true token count', () => {
    for (const bits of [2, 4, 8, 16] as Bits[]) {
      const q = quantizeKeys(block, tokens, d, bits, groupSize);
      expect(q.tokens).toBe(tokens);
      expect(dequantizeKeys(q)).toHaveLength(tokens * d);
      if (bits === 16) continue;
      expect(q.codes.length).toBe((tokens * d * bits) / 8);
      expect(q.mins.length).toBe(3 * d);
      expectHalfStepBound(block, q, dequantizeKeys(q));
      // The tail group's statistics and codes are exactly those of the tail tokens quantized on their own.
      const alone = quantizeKeys(block.slice(2 * groupSize * d), tail, d, bits, groupSize);
      expect(q.mins.slice(2 * d)).toEqual(alone.mins);
      expect(q.scales.slice(2 * d)).toEqual(alone.scales);
      expect(q.codes.slice((2 * groupSize * d * bits) / 8)).toEqual(alone.codes);
    }
  });

  it('ignores whatever lies where padding would be', () => {
    // The caller's buffer has room for a full group; the unused part holds garbage that must not matter.
    const roomy = new Float32Array(3 * groupSize * d);
    roomy.set(block);
    const garbage = roomy.slice();
    for (let i = tokens * d; i < garbage.length; i++) garbage[i] = (i % 7) * 1e4 - 3e4;
    for (const bits of [2, 4, 8, 16] as Bits[]) {
      for (const quantize of [quantizeKeys, quantizeValues]) {
        const a = quantize(roomy, tokens, d, bits, groupSize);
        const b = quantize(garbage, tokens, d, bits, groupSize);
        expect(b).toEqual(a);
      }
    }
  });
});

describe('argument and format checks', () => {
  it('rejects bad shapes before allocating', () => {
    const block = new Float32Array(64 * 10);
    expect(() => quantizeKeys(block, 11, 64, 2, 32)).toThrow(/fewer than/);
    expect(() => quantizeKeys(block, 10, 64, 3 as Bits, 32)).toThrow(/bits/);
    expect(() => quantizeKeys(block, 10, 64, 2, 0)).toThrow(/groupSize/);
    expect(() => quantizeValues(block, 10, 64, 2, 24)).toThrow(/multiple of the value group size/);
  });

  it('handles an empty block', () => {
    const q = quantizeKeys(new Float32Array(0), 0, 64, 2, 32);
    expect(q.codes.length).toBe(0);
    expect(dequantizeKeys(q)).toHaveLength(0);
  });

  it('refuses a deserialized block whose arrays do not match its header, or the wrong kind', () => {
    const block = keyLike(40, 64, 9);
    const q = quantizeKeys(block, 40, 64, 2, 32);
    expect(() => dequantizeKeys({ ...q, codes: q.codes.subarray(1) })).toThrow(/code bytes/);
    expect(() => dequantizeKeys({ ...q, mins: q.mins.subarray(1) })).toThrow(/mins/);
    expect(() => dequantizeKeys({ ...q, tokens: 41 })).toThrow(RangeError);
    expect(() => dequantizeKeys({ ...q, groupSize: 0 })).toThrow(/bad header/);
    expect(() => dequantizeKeys({ ...q, channels: 63.5 })).toThrow(/bad header/);
    const v = quantizeValues(block, 40, 64, 2, 32);
    expect(() => dequantizeKeys(v as unknown as typeof q)).toThrow(/expected quantized keys/);
    expect(() => dequantizeValues({ ...v, raw: undefined, bits: 16 })).toThrow(/raw/);
  });
});
