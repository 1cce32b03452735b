/**
 * The weight quantizer's packed layout against onnxruntime's MatMulNBits (one node, weights as initializers, as
 * the decoder graph stores them) and a plain TypeScript dequantize-then-multiply; plus the quantizer's own
 * error bound (half a step per value) and the padding of a K that is not a multiple of the block.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../kernels/graph-builder';
import { TensorDataType } from '../../kernels/onnx-proto';
import { projection } from '../../kernels/quantized-linear';
import { dequantizeBlockwise, parseWeightBits, quantizeBlockwise, WEIGHT_BLOCK } from '../../kernels/weight-quant';
import { seededRandom } from '../../src/engine/sampling';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function gaussian(n: number, seed: number, std: number): Float32Array {
  const random = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(random(), 1e-12);
    out[i] = std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  }
  return out;
}

function matmulTransB(a: Float32Array, w: Float32Array, t: number, n: number, k: number): Float64Array {
  const y = new Float64Array(t * n);
  for (let i = 0; i < t; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += a[i * k + c]! * w[j * k + c]!;
      y[i * n + j] = s;
    }
  return y;
}

async function runProjection(w: Float32Array, a: Float32Array, t: number, n: number, k: number, bits: 4 | 8) {
  const g = new GraphBuilder('projection');
  const x = g.input('A', TensorDataType.FLOAT, ['T', k]);
  const p = projection(g, 'w', [n, k], () => w, { bits, accuracyLevel: 0 });
  g.output('Y', p.apply(x), TensorDataType.FLOAT, ['T', n]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-wq-'));
  dirs.push(dir);
  g.save(dir, {});
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), { executionProviders: ['cpu'] });
  try {
    const out = await session.run({ A: new ort.Tensor('float32', a, [t, k]) });
    return out.Y!.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('block-quantized weights', () => {
  for (const bits of [4, 8] as const) {
    for (const [n, k] of [
      [48, 96],
      [40, 80], // K = 2.5 blocks: a padded last block
    ] as const) {
      it(`${bits}-bit MatMulNBits equals dequantize + matmul in TypeScript (N ${n}, K ${k})`, async () => {
        const t = 5;
        const w = gaussian(n * k, 1, 0.05);
        const a = gaussian(t * k, 2, 1);
        const q = quantizeBlockwise(w, n, k, bits);
        const reference = matmulTransB(a, dequantizeBlockwise(q), t, n, k);
        const y = await runProjection(w, a, t, n, k, bits);
        let maxRef = 0;
        for (let i = 0; i < y.length; i++) {
          expect(Math.abs(y[i]! - reference[i]!)).toBeLessThan(1e-4);
          maxRef = Math.max(maxRef, Math.abs(reference[i]!));
        }
        expect(maxRef).toBeGreaterThan(0.1); // not trivially zero
      });
    }

    it(`${bits}-bit round trip: within half a step inside each block's range, clipped to it outside; zero exact`, () => {
      const n = 16;
      const k = 70;
      const w = gaussian(n * k, 3, 0.02);
      w[5] = 0;
      const q = quantizeBlockwise(w, n, k, bits);
      expect(q.codes.length).toBe(n * Math.ceil(k / WEIGHT_BLOCK) * ((WEIGHT_BLOCK * bits) / 8));
      expect(q.zeroPoints.length).toBe(n * Math.ceil((Math.ceil(k / WEIGHT_BLOCK) * bits) / 8));
      const back = dequantizeBlockwise(q);
      for (let row = 0; row < n; row++)
        for (let c = 0; c < k; c++) {
          const block = row * q.kBlocks + Math.floor(c / WEIGHT_BLOCK);
          const scale = q.scales[block]!;
          const zero =
            bits === 8
              ? q.zeroPoints[block]!
              : (q.zeroPoints[row * Math.ceil(q.kBlocks / 2) + Math.floor(Math.floor(c / WEIGHT_BLOCK) / 2)]! >>
                  (4 * (Math.floor(c / WEIGHT_BLOCK) % 2))) &
                15;
          const lo = -zero * scale;
          const hi = ((1 << bits) - 1 - zero) * scale;
          const v = w[row * k + c]!;
          const clipped = Math.min(hi, Math.max(lo, v));
          expect(Math.abs(back[row * k + c]! - clipped)).toBeLessThanOrEqual(scale / 2 + 1e-7);
        }
      expect(back[5]).toBe(0);
    });

    it(`${bits}-bit blocks have less squared error than plain min-max rounding`, () => {
      const n = 64;
      const k = 64;
      const w = gaussian(n * k, 4, 0.02);
      const back = dequantizeBlockwise(quantizeBlockwise(w, n, k, bits));
      const levels = (1 << bits) - 1;
      let error = 0;
      let minMaxError = 0;
      for (let start = 0; start < w.length; start += WEIGHT_BLOCK) {
        const block = w.subarray(start, start + WEIGHT_BLOCK);
        const lo = Math.min(0, ...block);
        const scale = (Math.max(0, ...block) - lo) / levels;
        const zero = Math.round(-lo / scale);
        block.forEach((v, j) => {
          const code = Math.min(levels, Math.max(0, Math.round(v / scale) + zero));
          minMaxError += ((code - zero) * scale - v) ** 2;
          error += (back[start + j]! - v) ** 2;
        });
      }
      expect(error).toBeLessThan(minMaxError);
    });
  }

  it('weight bits other than 4, 8 and 32 are refused in words', () => {
    expect(parseWeightBits('4')).toBe(4);
    expect(parseWeightBits(32)).toBe(32);
    expect(() => parseWeightBits('16')).toThrow(/fp16 weights\) are not supported/);
    expect(() => parseWeightBits('3')).toThrow(/must be 4, 8 or 32/);
  });
});
