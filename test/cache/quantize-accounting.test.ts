import { describe, expect, it } from 'vitest';
import type { Bits } from '../../src/cache/cache-config';
import {
  dequantizeKeys,
  dequantizeValues,
  keyBytes,
  quantizedBytes,
  quantizeKeys,
  quantizeValues,
  valueBytes,
  type PackedBits,
  type QuantizedBlock,
} from '../../src/cache/quantize';
import { syntheticBlock } from '../../src/cache/quantize/synthetic';

function bufferBytes(q: QuantizedBlock): number {
  return [q.codes, q.mins, q.scales, q.raw].reduce((sum, a) => sum + (a ? a.byteLength : 0), 0);
}

describe('quantizedBytes', () => {
  it('matches the hand formula: 2 bits, 64 tokens, d = 64, group 32', () => {
    const block = syntheticBlock(64, 64, 1);
    const k = quantizeKeys(block, 64, 64, 2, 32);
    const v = quantizeValues(block, 64, 64, 2, 32);
    // codes 64·64/4 = 1024 B; keys: 2 token groups × 64 channels × (min + scale) × 2 B = 512 B.
    expect(k.codes.byteLength).toBe(1024);
    expect(k.mins.byteLength + k.scales.byteLength).toBe(512);
    expect(quantizedBytes(k)).toBe(1536);
    // values: 64 tokens × 2 channel groups × 2 × 2 B = 512 B.
    expect(quantizedBytes(v)).toBe(1536);
    // A 6-token tail adds a whole third group of key statistics (64 × 4 B) but only its own values' statistics.
    expect(quantizedBytes(quantizeKeys(syntheticBlock(70, 64, 1), 70, 64, 2, 32))).toBe(70 * 16 + 3 * 256);
    expect(quantizedBytes(quantizeValues(syntheticBlock(70, 64, 1), 70, 64, 2, 32))).toBe(70 * 16 + 70 * 8);
    // 16 bits: real float32 bytes.
    expect(quantizedBytes(quantizeKeys(block, 64, 64, 16, 32))).toBe(64 * 64 * 4);
  });

  it('equals the allocated buffers and the predicted sizes for every configuration', () => {
    for (const d of [64, 128]) {
      for (const tokens of [0, 1, 31, 32, 100]) {
        const block = syntheticBlock(tokens, d, tokens);
        for (const bits of [2, 4, 8, 16] as Bits[]) {
          for (const g of [16, 32, 64, 128]) {
            const k = quantizeKeys(block, tokens, d, bits, g);
            const v = quantizeValues(block, tokens, d, bits, g);
            expect(quantizedBytes(k)).toBe(bufferBytes(k));
            expect(quantizedBytes(v)).toBe(bufferBytes(v));
            expect(quantizedBytes(k)).toBe(keyBytes(tokens, d, bits, g));
            expect(quantizedBytes(v)).toBe(valueBytes(tokens, d, bits, g));
          }
        }
      }
    }
  });

  it('bytes per element, d = 64 (no tail): bits/8 + 4/groupSize for keys and values alike', () => {
    const tokens = 1024;
    const rows: string[] = [];
    for (const g of [32, 64]) {
      for (const bits of [2, 4, 8] as PackedBits[]) {
        const k = keyBytes(tokens, 64, bits, g) / (tokens * 64);
        const v = valueBytes(tokens, 64, bits, g) / (tokens * 64);
        expect(k).toBe(bits / 8 + 4 / g);
        expect(v).toBe(bits / 8 + 4 / g);
        rows.push(`g${g} ${bits}b: keys ${k} B, values ${v} B (${(2 / k).toFixed(2)}× vs fp16)`);
      }
    }
    console.log(`bytes per element, d = 64:\n  ${rows.join('\n  ')}`);
  });
});

describe('throughput (logged, not asserted: shared CI cores make timings noisy)', () => {
  /** Million elements per second of `f` over a 512 × 128 block, after a warm-up that lets the JIT settle. */
  function rate(f: () => void): number {
    for (let i = 0; i < 10; i++) f();
    const reps = 30;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) f();
    return (reps * 512 * 128) / ((performance.now() - t0) / 1000) / 1e6;
  }

  it('quantize + dequantize a 512 × 128 block, group 32', () => {
    const tokens = 512;
    const d = 128;
    const block = syntheticBlock(tokens, d, 8, { outlierChannels: [5, 99] });
    const lines: string[] = [];
    for (const bits of [2, 4, 8] as PackedBits[]) {
      const k = quantizeKeys(block, tokens, d, bits, 32);
      const v = quantizeValues(block, tokens, d, bits, 32);
      const qk = rate(() => quantizeKeys(block, tokens, d, bits, 32));
      const dk = rate(() => dequantizeKeys(k));
      const qv = rate(() => quantizeValues(block, tokens, d, bits, 32));
      const dv = rate(() => dequantizeValues(v));
      const both = (a: number, b: number): string => (1 / (1 / a + 1 / b)).toFixed(0);
      lines.push(
        `${bits}b keys: q ${qk.toFixed(0)}, dq ${dk.toFixed(0)}, q+dq ${both(qk, dk)};` +
          `  values: q ${qv.toFixed(0)}, dq ${dv.toFixed(0)}, q+dq ${both(qv, dv)}`,
      );
    }
    console.log(`M elements/s, 512 × 128 block, group 32:\n  ${lines.join('\n  ')}`);
  });
});
