import { describe, expect, it } from 'vitest';
import { f16BitsToF32 } from '../../src/engine/safetensors';
import { encodeRange, F16_MAX, f16FloorBits, quantizeKeys, quantizeValues } from '../../src/cache/quantize';
import { f16NextUpBits } from '../../src/cache/quantize/fp16-range';
import { seededUniform } from '../../src/cache/quantize/synthetic';

function encode(lo: number, hi: number, levels: number): { min: number; scale: number; scaleBits: number } {
  const mins = new Uint16Array(1);
  const scales = new Uint16Array(1);
  encodeRange(lo, hi, levels, mins, scales, 0);
  return { min: f16BitsToF32(mins[0]), scale: f16BitsToF32(scales[0]), scaleBits: scales[0] };
}

describe('f16FloorBits', () => {
  it('is the largest fp16 not above x', () => {
    const u = seededUniform(5);
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((u() - 0.5) * 2 * 10 ** (8 * u() - 6));
      const h = f16FloorBits(x);
      expect(f16BitsToF32(h)).toBeLessThanOrEqual(x);
      expect(f16BitsToF32(f16NextUpBits(h))).toBeGreaterThan(x);
    }
    expect(f16BitsToF32(f16FloorBits(0.1))).toBeLessThan(0.1);
    expect(f16BitsToF32(f16FloorBits(-0.1))).toBeLessThan(-0.1);
    expect(f16BitsToF32(f16FloorBits(3.5))).toBe(3.5);
    expect(f16BitsToF32(f16FloorBits(-F16_MAX))).toBe(-F16_MAX);
  });
});

describe('encodeRange', () => {
  it('stores min16 ≤ min, covers max, and uses the smallest covering fp16 scale', () => {
    const u = seededUniform(11);
    for (const levels of [3, 15, 255]) {
      for (let i = 0; i < 5000; i++) {
        // Magnitudes from 1e-6 (fp16 subnormal territory) to 3e4, spreads from tiny to the full magnitude.
        const mag = 10 ** (10.5 * u() - 6);
        const lo = Math.fround((u() - 0.5) * 2 * mag);
        const hi = Math.fround(lo + mag * 10 ** (-6 * u()));
        const { min, scale, scaleBits } = encode(lo, hi, levels);
        expect(min).toBeLessThanOrEqual(lo);
        expect(min + levels * scale).toBeGreaterThanOrEqual(hi);
        // Minimality: one fp16 step smaller no longer covers (so the scale was rounded up only as needed).
        if (scaleBits > 0) expect(min + levels * f16BitsToF32(scaleBits - 1)).toBeLessThan(hi);
      }
    }
  });

  it('gives a constant fp16-representable group scale 0 (exact), and a tiny scale otherwise', () => {
    expect(encode(0, 0, 3)).toEqual({ min: 0, scale: 0, scaleBits: 0 });
    expect(encode(3.5, 3.5, 3)).toEqual({ min: 3.5, scale: 0, scaleBits: 0 });
    expect(encode(-120, -120, 15)).toEqual({ min: -120, scale: 0, scaleBits: 0 });
    // 0.1 is not an fp16: min16 sits below it and the top code must still reach it.
    const x = Math.fround(0.1);
    const { min, scale } = encode(x, x, 3);
    expect(min).toBeLessThan(x);
    expect(scale).toBeGreaterThan(0);
    expect(min + 3 * scale).toBeGreaterThanOrEqual(x);
    expect(Math.abs(Math.fround(min + 3 * scale) - x)).toBeLessThanOrEqual(scale / 2);
  });

  it('handles the ends of the fp16 range and refuses what fp16 cannot hold', () => {
    const full = encode(-F16_MAX, F16_MAX, 3);
    expect(full.min).toBe(-F16_MAX);
    expect(Number.isFinite(full.scale)).toBe(true);
    expect(() => encode(0, 70000, 3)).toThrow(RangeError);
    expect(() => encode(-65520, 0, 3)).toThrow(RangeError);
    expect(() => encode(NaN, 1, 3)).toThrow(RangeError);
    expect(() => encode(2, 1, 3)).toThrow(RangeError);
  });

  it('quantizers reject NaN and infinities instead of storing garbage', () => {
    const block = new Float32Array(64 * 4).fill(1);
    block[70] = NaN;
    expect(() => quantizeKeys(block, 4, 64, 2, 32)).toThrow(/NaN|not finite/);
    expect(() => quantizeValues(block, 4, 64, 2, 32)).toThrow(/NaN|not finite/);
    block[70] = -Infinity;
    expect(() => quantizeKeys(block, 4, 64, 4, 32)).toThrow(/NaN|not finite/);
    expect(() => quantizeValues(block, 4, 64, 8, 32)).toThrow(/NaN|not finite/);
    // 16 bits stores the values as they are: nothing to protect.
    expect(() => quantizeKeys(block, 4, 64, 16, 32)).not.toThrow();
  });
});
