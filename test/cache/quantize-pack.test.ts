import { describe, expect, it } from 'vitest';
import { f16BitsToF32 } from '../../src/engine/safetensors';
import {
  CODES_PER_BYTE,
  codeLocation,
  codeMask,
  dequantizeKeys,
  packCodes,
  packedRowBytes,
  quantizeKeys,
  UNPACK_SHIFTS,
  unpackCodes,
  type PackedBits,
} from '../../src/cache/quantize';
import { seededUniform, syntheticBlock } from '../../src/cache/quantize/synthetic';

const PACKED: PackedBits[] = [2, 4, 8];

function randomCodes(count: number, bits: PackedBits, seed: number): Uint8Array {
  const u = seededUniform(seed);
  const codes = new Uint8Array(count);
  for (let i = 0; i < count; i++) codes[i] = Math.floor(u() * (1 << bits));
  return codes;
}

describe('packCodes / unpackCodes', () => {
  for (const bits of PACKED) {
    it(`round-trips ${bits}-bit codes, including counts that leave a partial last byte`, () => {
      // 1, 2, 3, 5, 7, 13, 1001 are not multiples of 4 codes per byte (2 bits) and some not of 2 (4 bits).
      for (const count of [0, 1, 2, 3, 4, 5, 7, 8, 13, 64, 1001]) {
        const codes = randomCodes(count, bits, 1000 + count);
        const packed = packCodes(codes, bits);
        expect(packed.length).toBe(Math.ceil((count * bits) / 8));
        expect(unpackCodes(packed, bits, count)).toEqual(codes);
      }
    });
  }

  it('puts the first code in the low bits (little end first), unused high bits zero', () => {
    // 2 bits: 1 | 2<<2 | 3<<4 | 0<<6 = 57, then a partial byte holding only the 5th code.
    expect([...packCodes(Uint8Array.of(1, 2, 3, 0, 3), 2)]).toEqual([57, 3]);
    expect([...packCodes(Uint8Array.of(0xa, 0x5, 0xf), 4)]).toEqual([0x5a, 0x0f]);
    expect([...packCodes(Uint8Array.of(7, 255), 8)]).toEqual([7, 255]);
  });

  it('rejects codes that do not fit (they would corrupt neighbours) and short buffers', () => {
    expect(() => packCodes(Uint8Array.of(0, 4), 2)).toThrow(/does not fit/);
    expect(() => packCodes(Uint8Array.of(16), 4)).toThrow(/does not fit/);
    expect(() => unpackCodes(new Uint8Array(1), 2, 5)).toThrow(/need 2 bytes/);
    expect(() => packCodes(new Uint8Array(1), 3 as PackedBits)).toThrow(/2, 4 or 8/);
  });
});

describe('documented block layout (the ONNX graph contract)', () => {
  for (const bits of PACKED) {
    it(`${bits} bits: codeLocation, UNPACK_SHIFTS and packCodes agree on every (token, channel)`, () => {
      const tokens = 7;
      const d = 64;
      const codes = randomCodes(tokens * d, bits, bits);
      const packed = packCodes(codes, bits);
      const rowBytes = packedRowBytes(d, bits);
      expect(rowBytes).toBe((d * bits) / 8);
      const mask = codeMask(bits);
      for (let t = 0; t < tokens; t++) {
        for (let c = 0; c < d; c++) {
          const { byte, shift } = codeLocation(t, c, d, bits);
          expect(byte).toBe(t * rowBytes + Math.floor((c * bits) / 8));
          expect(shift).toBe((c * bits) % 8);
          expect((packed[byte] >> shift) & mask).toBe(codes[t * d + c]);
        }
      }
      // The graph recipe: [n, R, 1] >> UNPACK_SHIFTS ([k]) → [n, R, k], & mask, reshape [n, R·k]: channel j·k + i.
      const k = CODES_PER_BYTE[bits];
      expect(UNPACK_SHIFTS[bits]).toHaveLength(k);
      const viaGraph = new Uint8Array(tokens * d);
      for (let t = 0; t < tokens; t++) {
        for (let j = 0; j < rowBytes; j++) {
          for (let i = 0; i < k; i++) {
            viaGraph[t * d + j * k + i] = (packed[t * rowBytes + j] >> UNPACK_SHIFTS[bits][i]) & mask;
          }
        }
      }
      expect(viaGraph).toEqual(codes);
    });

    it(`${bits} bits: a dequantizer written from the documented layout matches dequantizeKeys bit for bit`, () => {
      const tokens = 45;
      const d = 64;
      const groupSize = 16;
      const block = syntheticBlock(tokens, d, 77, { outlierChannels: [3, 40] });
      const q = quantizeKeys(block, tokens, d, bits, groupSize);
      const codes = unpackCodes(q.codes, bits, tokens * d);
      const expected = new Float32Array(tokens * d);
      for (let t = 0; t < tokens; t++) {
        const g = Math.floor(t / groupSize);
        for (let c = 0; c < d; c++) {
          const min = f16BitsToF32(q.mins[g * d + c]);
          const scale = f16BitsToF32(q.scales[g * d + c]);
          // float32 Mul then Add, as an fp32 graph computes it.
          expected[t * d + c] = Math.fround(min + Math.fround(codes[t * d + c] * scale));
        }
      }
      expect(dequantizeKeys(q)).toEqual(expected);
    });
  }

  it('requires rows to start on a byte boundary', () => {
    expect(() => packedRowBytes(6, 2)).toThrow(/multiple of 8/);
    expect(() => quantizeKeys(new Float32Array(12), 2, 6, 2, 32)).toThrow(/multiple of 8/);
  });
});
