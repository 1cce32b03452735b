import { describe, expect, it } from 'vitest';
import { f16BitsToF32 } from '../../src/engine/safetensors';
import {
  dequantizeKeys,
  dequantizeValues,
  kiviKeyError2bit,
  quantizeKeys,
  quantizeValues,
  relativeError,
  type PackedBits,
  type QuantizedKeys,
} from '../../src/cache/quantize';
import { syntheticBlock } from '../../src/cache/quantize/synthetic';

const d = 128;
const tokens = 1024;
const gauss = syntheticBlock(tokens, d, 2024);

/**
 * The uniform-error model: an element's rounding error is ~uniform on ±scale/2, variance scale²/12, so
 * predicted ‖x − x̂‖/‖x‖ = sqrt(Σ scale(x)²/12 / Σ x²), from the scales actually stored.
 */
function predictedKeyError(block: Float32Array, q: QuantizedKeys): number {
  let mse = 0;
  let ref = 0;
  for (let t = 0; t < q.tokens; t++) {
    for (let c = 0; c < d; c++) {
      mse += f16BitsToF32(q.scales[Math.floor(t / q.groupSize) * d + c]) ** 2 / 12;
      ref += block[t * d + c] ** 2;
    }
  }
  return Math.sqrt(mse / ref);
}

describe('relativeError', () => {
  it('is the Frobenius ratio, 0 for 0/0 and for exact copies, Infinity for error on a zero block', () => {
    expect(relativeError(Float32Array.of(3, 4), Float32Array.of(0, 0))).toBe(1);
    expect(relativeError(Float32Array.of(3, 4), Float32Array.of(3, 3))).toBeCloseTo(0.2, 12);
    expect(relativeError(new Float32Array(4), new Float32Array(4))).toBe(0);
    expect(relativeError(Float32Array.of(1, -2), Float32Array.of(1, -2))).toBe(0);
    expect(relativeError(new Float32Array(2), Float32Array.of(0, 1))).toBe(Infinity);
    expect(() => relativeError(new Float32Array(2), new Float32Array(3))).toThrow(/length/);
  });
});

describe('error versus bits and group size (Gaussian, 1024 × 128)', () => {
  const errors = new Map<string, number>();
  for (const groupSize of [16, 32, 64, 128]) {
    for (const bits of [2, 4, 8] as PackedBits[]) {
      const qk = quantizeKeys(gauss, tokens, d, bits, groupSize);
      const qv = quantizeValues(gauss, tokens, d, bits, groupSize);
      errors.set(`k${bits}g${groupSize}`, relativeError(gauss, dequantizeKeys(qk)));
      errors.set(`v${bits}g${groupSize}`, relativeError(gauss, dequantizeValues(qv)));
      errors.set(`p${bits}g${groupSize}`, predictedKeyError(gauss, qk));
    }
  }
  const e = (key: string): number => errors.get(key) as number;

  it('shrinks with bits, by about the ratio of step counts', () => {
    console.log(
      'relative error (keys / values):',
      [16, 32, 64, 128]
        .map(
          (g) => `g${g}: ` + [2, 4, 8].map((b) => `${b}b ${e(`k${b}g${g}`).toFixed(4)}/${e(`v${b}g${g}`).toFixed(4)}`),
        )
        .join('  '),
    );
    for (const g of [16, 32, 64, 128]) {
      for (const kind of ['k', 'v']) {
        expect(e(`${kind}2g${g}`)).toBeGreaterThan(e(`${kind}4g${g}`));
        expect(e(`${kind}4g${g}`)).toBeGreaterThan(e(`${kind}8g${g}`));
        // The step is range/(2^b − 1): 2→4 bits divides it by 15/3 = 5, 4→8 bits by 255/15 = 17. The 2-bit cells
        // are wide relative to the Gaussian's curvature, so that ratio is looser than 4→8.
        expect(e(`${kind}2g${g}`) / e(`${kind}4g${g}`)).toBeGreaterThan(4.5);
        expect(e(`${kind}2g${g}`) / e(`${kind}4g${g}`)).toBeLessThan(5.5);
        expect(e(`${kind}4g${g}`) / e(`${kind}8g${g}`)).toBeGreaterThan(15.5);
        expect(e(`${kind}4g${g}`) / e(`${kind}8g${g}`)).toBeLessThan(18);
      }
    }
  });

  it('grows with group size (a larger group spans a wider range)', () => {
    for (const b of [2, 4, 8]) {
      for (const kind of ['k', 'v']) {
        expect(e(`${kind}${b}g16`)).toBeLessThan(e(`${kind}${b}g32`));
        expect(e(`${kind}${b}g32`)).toBeLessThan(e(`${kind}${b}g64`));
        expect(e(`${kind}${b}g64`)).toBeLessThan(e(`${kind}${b}g128`));
      }
    }
  });

  it('matches the uniform-error model scale/√12 within 10%', () => {
    for (const g of [16, 32, 64, 128]) {
      for (const b of [2, 4, 8]) {
        const ratio = e(`k${b}g${g}`) / e(`p${b}g${g}`);
        expect(ratio).toBeGreaterThan(0.9);
        expect(ratio).toBeLessThan(1.05);
      }
    }
  });

  it('2-bit keys, group 32: ≈ 0.39, as the expected range of 32 normals predicts', () => {
    // 32 standard normals span E[range] ≈ 4.1σ (tables of the expected range), so the step is ≈ 4.1/3 ≈ 1.37σ and
    // the error ≈ 1.37/√12 ≈ 0.39 of σ = the block's RMS. The sampled range varies by group, hence the band.
    expect(e('k2g32')).toBeGreaterThan(0.35);
    expect(e('k2g32')).toBeLessThan(0.43);
    expect(kiviKeyError2bit(gauss, tokens, d, 32)).toBe(e('k2g32'));
    // 4 bits: 4.1/15/√12 ≈ 0.079; 8 bits: 4.1/255/√12 ≈ 0.0046.
    expect(e('k4g32')).toBeGreaterThan(0.07);
    expect(e('k4g32')).toBeLessThan(0.09);
    expect(e('k8g32')).toBeGreaterThan(0.004);
    expect(e('k8g32')).toBeLessThan(0.0055);
  });
});

describe('outlier channels', () => {
  const outliers = [3, 50, 77, 120];
  const withOutliers = syntheticBlock(256, d, 2024, { outlierChannels: outliers });
  const plain = syntheticBlock(256, d, 2024);

  /** Relative error over the non-outlier channels only (the outliers' norm would hide everything else). */
  function bulkError(deq: Float32Array): number {
    const mask = (_: number, i: number): boolean => !outliers.includes(i % d);
    return relativeError(withOutliers.filter(mask), deq.filter(mask));
  }

  it('per-channel keys isolate them: the other channels quantize exactly as without outliers', () => {
    const a = dequantizeKeys(quantizeKeys(withOutliers, 256, d, 2, 32));
    const b = dequantizeKeys(quantizeKeys(plain, 256, d, 2, 32));
    let differ = 0;
    for (let i = 0; i < a.length; i++) if (!outliers.includes(i % d) && a[i] !== b[i]) differ++;
    expect(differ).toBe(0);
  });

  it('per-token grouping of the same data is ruined by them (why keys are grouped per channel)', () => {
    // A per-token group holding a ±50–200 channel has a 2-bit step of tens of units: the σ = 1 bulk is lost.
    const keys = bulkError(dequantizeKeys(quantizeKeys(withOutliers, 256, d, 2, 32)));
    const asValues = bulkError(dequantizeValues(quantizeValues(withOutliers, 256, d, 2, 32)));
    console.log(
      `2-bit, error on the non-outlier channels: per-channel ${keys.toFixed(3)}, per-token ${asValues.toFixed(3)}`,
    );
    expect(keys).toBeLessThan(0.43);
    // Worse than storing zeros (relative error 1), against the bulk's usual ≈ 0.39.
    expect(asValues).toBeGreaterThan(1.5);
  });

  it('a high-offset narrow channel pays for fp16 min granularity, but stays within the bound', () => {
    // 150 + [0, 0.01): the fp16 spacing at 150 is 0.125, so min16 may sit up to 0.125 below the true min and the
    // 2-bit step covers that gap too (the price of min16 ≤ min). Keys before rotary (KVQuant) have this shape.
    const narrow = new Float32Array(32 * 4);
    for (let i = 0; i < narrow.length; i++) narrow[i] = 150.03 + ((i * 37) % 101) * 1e-4;
    const q = quantizeKeys(narrow, 32, 4, 2, 32);
    const deq = dequantizeKeys(q);
    const scale = f16BitsToF32(q.scales[0]);
    expect(scale).toBeGreaterThan(0.01 / 3);
    for (let i = 0; i < narrow.length; i++) expect(Math.abs(deq[i] - narrow[i])).toBeLessThanOrEqual(scale / 2 + 1e-5);
  });
});
