/**
 * The Hadamard rotation of the fused layout (src/cache/fused/rotation.ts): orthogonal and its own inverse, so a
 * rotated-and-back block is the original within float32 rounding, dot products are preserved (q·kᵀ exact), and
 * at 4 and 2 bits a rotated block dequantizes back to the original space with an error bounded by the quantizer.
 * The graph side (queries and context rotated in ONNX) is checked in fused-attention.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  dequantizeFusedKeys,
  dequantizeFusedValues,
  quantizeFusedKeys,
  quantizeFusedValues,
} from '../../src/cache/fused/quantize';
import { hadamardMatrix, rotateRows } from '../../src/cache/fused/rotation';

function random(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return (s / 2 ** 31) * 2 - 1;
  });
}

describe('Hadamard rotation', () => {
  const d = 64;

  it('the dense matrix is orthonormal and symmetric', () => {
    const h = hadamardMatrix(d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        expect(h[i * d + j]).toBe(h[j * d + i]);
        let dot = 0;
        for (let c = 0; c < d; c++) dot += h[i * d + c]! * h[j * d + c]!;
        expect(Math.abs(dot - (i === j ? 1 : 0))).toBeLessThan(1e-6);
      }
    }
  });

  it('the fast transform equals multiplication by the dense matrix, and undoes itself within 1e-6', () => {
    const rows = 5;
    const x = random(rows * d, 7);
    const h = hadamardMatrix(d);
    const y = rotateRows(x, rows, d);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < d; j++) {
        let dense = 0;
        for (let c = 0; c < d; c++) dense += x[r * d + c]! * h[c * d + j]!;
        expect(Math.abs(y[r * d + j]! - dense)).toBeLessThan(1e-6);
      }
    }
    const back = rotateRows(y, rows, d);
    for (let i = 0; i < x.length; i++) expect(Math.abs(back[i]! - x[i]!)).toBeLessThan(1e-6);
  });

  it('spreads one outlier channel over every channel', () => {
    const x = new Float32Array(d);
    x[5] = 64;
    const y = rotateRows(x, 1, d);
    for (const v of y) expect(Math.abs(v)).toBeCloseTo(8, 5);
  });

  it('refuses sizes that are not powers of two', () => {
    expect(() => rotateRows(new Float32Array(48), 1, 48)).toThrow(/power-of-two/);
  });

  it('rotated keys and values dequantize back to the original space, with less error where a channel is an outlier', () => {
    const tokens = 64;
    const keys = random(tokens * d, 3);
    for (let t = 0; t < tokens; t++) keys[t * d + 9] = 30 * keys[t * d + 9]!; // an outlier channel in every token
    const values = random(tokens * d, 11);
    const smooth = new Float32Array(d).fill(1);
    const err = (a: Float32Array, b: Float32Array) => {
      let s = 0;
      for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
      return Math.sqrt(s / a.length);
    };
    for (const bits of [4, 2] as const) {
      const plain = dequantizeFusedKeys(quantizeFusedKeys(keys, tokens, d, bits, 32, smooth, 0, false), smooth, false);
      const rotated = dequantizeFusedKeys(quantizeFusedKeys(keys, tokens, d, bits, 32, smooth, 0, true), smooth, true);
      expect(err(rotated, keys)).toBeLessThan(err(plain, keys));
      const v = dequantizeFusedValues(quantizeFusedValues(values, tokens, d, bits, 32, true), true);
      // Half a step of the rotated channels' range, spread back over the channels (orthonormal: same RMS).
      expect(err(v, values)).toBeLessThan(bits === 4 ? 0.05 : 0.4);
    }
  });
});
