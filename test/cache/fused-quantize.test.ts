/**
 * The fused (MatMulNBits) layout's quantizers, smoothing and block assembly, without a graph: error bounds, the
 * byte layout MatMulNBits reads, the (zero, scale) conversion, the exactness of power-of-two smoothing, and what
 * smoothing buys on keys with Qwen-like outlier channels.
 */
import { describe, expect, it } from 'vitest';
import { assembleFusedBlock, capacityClass } from '../../src/cache/fused/block';
import {
  channelMajor,
  dequantizeFusedKeys,
  dequantizeFusedValues,
  kernelStats,
  quantizeFusedKeys,
  quantizeFusedValues,
} from '../../src/cache/fused/quantize';
import { quantizeFusedHead } from '../../src/cache/fused/segment';
import { accumulateMaxAbs, KeySmoothing, residualMaxAbs } from '../../src/cache/fused/smoothing';
import { dequantizeKeys, quantizeKeys, unpackCodes } from '../../src/cache/quantize';
import { seededNormal, syntheticBlock } from '../../src/cache/quantize/synthetic';
import { f16BitsToF32, f32ToF16Bits } from '../../src/engine/safetensors';

const d = 64;
const ones = new Float32Array(d).fill(1);

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('fused quantizers', () => {
  for (const bits of [2, 4] as const) {
    it(`${bits}-bit keys: per token over channel blocks, every element within half a step`, () => {
      const n = 45;
      const block = syntheticBlock(n, d, 3, { outlierChannels: [5], constantChannels: [[9, 0.3]] });
      const q = quantizeFusedKeys(block, n, d, bits, 32, ones);
      expect(q.codes.length).toBe((n * d * bits) / 8);
      expect(q.mins.length).toBe(n * 2);
      const deq = dequantizeFusedKeys(q, ones);
      for (let t = 0; t < n; t++) {
        for (let c = 0; c < d; c++) {
          const step = f16BitsToF32(q.scales[t * 2 + (c >> 5)]!);
          expect(Math.abs(deq[t * d + c]! - block[t * d + c]!)).toBeLessThanOrEqual(step / 2 + 1e-4);
        }
      }
    });

    it(`${bits}-bit values: per channel over token blocks (short tail), channel-major codes`, () => {
      const n = 45; // one whole block of 32 and a tail of 13
      const block = syntheticBlock(n, d, 4);
      const q = quantizeFusedValues(block, n, d, bits, 32);
      const rowBytes = Math.ceil((n * bits) / 8);
      expect(q.codes.length).toBe(d * rowBytes);
      // Channel-major codes are the token-major KIVI key codes transposed.
      const tokenMajor = unpackCodes(quantizeKeys(block, n, d, bits, 32).codes, bits, n * d);
      for (let c = 0; c < d; c++) {
        const row = unpackCodes(q.codes.subarray(c * rowBytes, (c + 1) * rowBytes), bits, n);
        for (let t = 0; t < n; t++) expect(row[t]).toBe(tokenMajor[t * d + c]);
      }
      const deq = dequantizeFusedValues(q);
      const kivi = dequantizeKeys(quantizeKeys(block, n, d, bits, 32));
      expect(maxAbsDiff(deq, kivi)).toBeLessThan(1e-5); // same groups, same statistics, only the formula differs
    });
  }

  it('channelMajor transposes packed codes exactly', () => {
    const n = 7;
    const codes = Uint8Array.from({ length: n * 8 }, (_, i) => (i * 97 + 13) & 255);
    const out = channelMajor(codes, n, 32, 2);
    const all = unpackCodes(codes, 2, n * 32);
    for (let c = 0; c < 32; c++) {
      const row = unpackCodes(out.subarray(c * 2, c * 2 + 2), 2, n);
      for (let t = 0; t < n; t++) expect(row[t]).toBe(all[t * 32 + c]);
    }
  });

  it('kernelStats: (code − zero)·scale reproduces min + code·scale, constant groups exactly', () => {
    const min = f32ToF16Bits(-1.75);
    const scale = f32ToF16Bits(0.3);
    const st = kernelStats(min, scale);
    for (let code = 0; code < 4; code++) {
      expect(Math.abs((code - st.zero) * st.scale - (f16BitsToF32(min) + code * f16BitsToF32(scale)))).toBeLessThan(
        1e-6,
      );
    }
    const constant = kernelStats(f32ToF16Bits(2.5), 0);
    expect((0 - constant.zero) * constant.scale).toBe(2.5);
    const negative = kernelStats(f32ToF16Bits(-0.5), 0);
    expect((0 - negative.zero) * negative.scale).toBe(-0.5);
    expect(kernelStats(0, 0)).toEqual({ scale: 0, zero: 0 });
  });
});

describe('key smoothing', () => {
  it('is a power of two per channel, so q·kᵀ is bit-for-bit unchanged', () => {
    const keys = syntheticBlock(64, d, 8, { outlierChannels: [3, 35] });
    const maxAbs = [new Float32Array(d)];
    accumulateMaxAbs(maxAbs, [keys], d);
    const s = KeySmoothing.fromMaxAbs(maxAbs, 1, d, 0.5).forHead(0, 0);
    for (const x of s) expect(Math.log2(x) % 1).toBe(0);
    expect(s[3]).toBeGreaterThanOrEqual(4); // an outlier channel (|k| ≥ 50) is scaled down
    const q = syntheticBlock(1, d, 9);
    for (let t = 0; t < 64; t++) {
      let plain = 0;
      let smoothed = 0;
      for (let c = 0; c < d; c++) {
        plain += q[c]! * keys[t * d + c]!;
        smoothed += Math.fround(q[c]! * s[c]!) * Math.fround(keys[t * d + c]! / s[c]!);
      }
      expect(smoothed).toBe(plain);
    }
  });

  it('on keys with outlier channels, per-token 2-bit blocks need centering; centered, they match KIVI', () => {
    const n = 256;
    const keys = syntheticBlock(n, d, 12, { outlierChannels: [3, 3 + 32, 17, 17 + 32] });
    const normal = seededNormal(13);
    const queries = Float32Array.from({ length: 16 * d }, () => normal());
    // Score error relative to the scores' spread over tokens: a constant shift per query cancels in softmax.
    const scoreError = (deq: Float32Array) => {
      let err = 0;
      let spread = 0;
      for (let i = 0; i < 16; i++) {
        const exact: number[] = [];
        for (let t = 0; t < n; t++) {
          let a = 0;
          let b = 0;
          for (let c = 0; c < d; c++) {
            a += queries[i * d + c]! * keys[t * d + c]!;
            b += queries[i * d + c]! * deq[t * d + c]!;
          }
          err += (a - b) ** 2;
          exact.push(a);
        }
        const m = exact.reduce((x, y) => x + y) / n;
        spread += exact.reduce((x, y) => x + (y - m) ** 2, 0);
      }
      return Math.sqrt(err / spread);
    };
    const fused = (center: boolean, alpha: number) => {
      const s = KeySmoothing.fromMaxAbs([residualMaxAbs(keys, n, d, center ? 32 : 0)], 1, d, alpha).forHead(0, 0);
      return scoreError(dequantizeFusedKeys(quantizeFusedKeys(keys, n, d, 2, 32, s, center ? 32 : 0), s));
    };
    const kivi = scoreError(dequantizeKeys(quantizeKeys(keys, n, d, 2, 32)));
    expect(kivi).toBeLessThan(0.5);
    expect(fused(false, 0)).toBeGreaterThan(2); // the offsets set every token's range: noise beyond the signal
    expect(fused(false, 0.5)).toBeGreaterThan(1.5); // smoothing alone does not rescue it
    expect(fused(true, 0.5)).toBeLessThan(1.1 * kivi);
  });
});

describe('fused block assembly', () => {
  it('capacity classes: four steps per octave from 1024', () => {
    expect(capacityClass(1, 32)).toBe(1024);
    expect(capacityClass(1024, 32)).toBe(1024);
    expect(capacityClass(1025, 32)).toBe(1280);
    expect(capacityClass(4096, 32)).toBe(4096);
    expect(capacityClass(4097, 32)).toBe(5120);
    expect(capacityClass(70000, 32)).toBe(81920);
  });

  it('pads heads to the capacity, masks padding with −inf and refuses a capacity too small', () => {
    const smoothing = KeySmoothing.identity(1, 2, d);
    const quant = { keyBits: [2 as const], valueBits: 2 as const, keyBlock: 32, valueBlock: 32, centerKeys: true };
    const head = (k: number, seed: number) =>
      quantizeFusedHead(
        Uint16Array.from({ length: k }, (_, i) => i),
        syntheticBlock(k, d, seed),
        syntheticBlock(k, d, seed + 1),
        d,
        0,
        quant,
        ones,
      );
    const segments = [
      { layout: 'fused' as const, tokens: 50, firstPosition: 4, layers: [[head(40, 1), head(20, 2)]] },
      { layout: 'fused' as const, tokens: 30, firstPosition: 4, layers: [[head(30, 3), head(30, 4)]] },
    ];
    const shape = { numLayers: 1, numKvHeads: 2, headDim: d, ...quant };
    const block = assembleFusedBlock(segments, shape, smoothing);
    expect(block.slotsPerLayer).toEqual([96]); // head 0: 64 + 32 slots
    expect(block.capacity).toEqual([1024]);
    expect(block.keptSlots).toBe(120);
    const bias = block.feeds['fused_bias.0']!.data as Float32Array;
    const real = (h: number) => Array.from(bias.subarray(h * 1024, (h + 1) * 1024)).filter((x) => x === 0).length;
    expect([real(0), real(1)]).toEqual([70, 50]);
    expect(bias[40]).toBe(-Infinity); // head 0's first run ends at 40, its second starts at slot 64
    expect(bias[64]).toBe(0);
    expect(block.feeds['fused_value_codes.0.1']!.dims).toEqual([d, 32, 8]);
    expect(() => assembleFusedBlock(segments, shape, smoothing, { capacity: [64] })).toThrow(/capacity/);
  });
});
