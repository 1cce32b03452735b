/**
 * What onnxruntime-node's CPU provider accepts for com.microsoft MatMulNBits with every operand a GRAPH INPUT
 * (the cache changes per query, so B can never be an initializer). One node per graph, checked against a
 * TypeScript reference Y = A · ((code − zero)·scale)ᵀ. The fused attention (kernels/fused-attention.ts) relies on
 * the cases marked as working; the refusals document why its layout is what it is.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder } from '../../kernels/graph-builder';
import { TensorDataType } from '../../kernels/onnx-proto';
import { seededUniform } from '../../src/cache/quantize/synthetic';

interface Case {
  bits: number;
  blockSize: number;
  n: number;
  k: number;
  zero: 'none' | 'uint8' | 'float';
  scaleType?: 'float32' | 'float16';
  aDims?: number[];
  /** Shapes fed at run time when they differ from the attributes. */
  runN?: number;
  runK?: number;
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

async function runCase(c: Case): Promise<{ maxError: number; dims: readonly number[] }> {
  const { FLOAT, FLOAT16, UINT8 } = TensorDataType;
  const blocks = Math.ceil(c.k / c.blockSize);
  const blob = (c.blockSize * c.bits) / 8;
  const zeroBytes = Math.ceil((blocks * c.bits) / 8);
  const aDims = c.aDims ?? [3, c.k];
  const g = new GraphBuilder('matmul-nbits');
  const inputs = [
    g.input(
      'A',
      FLOAT,
      aDims.map((x, i) => (i === aDims.length - 1 ? x : `a${i}`)),
    ),
    g.input('B', UINT8, ['N', 'blocks', blob]),
    g.input('scales', c.scaleType === 'float16' ? FLOAT16 : FLOAT, ['N', 'blocks']),
  ];
  if (c.zero === 'uint8') inputs.push(g.input('zero', UINT8, ['N', 'zeroBytes']));
  if (c.zero === 'float') inputs.push(g.input('zero', FLOAT, ['N', 'blocks']));
  const attrs = { K: c.k, N: c.n, bits: c.bits, block_size: c.blockSize };
  g.output('Y', g.op('MatMulNBits', inputs, attrs, 'com.microsoft'), FLOAT, [
    ...aDims.slice(0, -1).map((_, i) => `a${i}`),
    c.n,
  ]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-nbits-'));
  dirs.push(dir);
  g.save(dir, {});

  const n = c.runN ?? c.n;
  const k = c.runK ?? c.k;
  const runBlocks = Math.ceil(k / c.blockSize);
  const u = seededUniform(c.bits * 1000 + c.blockSize);
  const levels = 1 << c.bits;
  const codes = Uint8Array.from({ length: n * k }, () => Math.floor(u() * levels));
  const packed = new Uint8Array(n * runBlocks * blob);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < k; j++)
      packed[r * runBlocks * blob + ((j * c.bits) >> 3)] |= codes[r * k + j]! << ((j * c.bits) & 7);
  }
  const scales = Float32Array.from({ length: n * runBlocks }, () => 0.01 + u());
  const zeros = Float32Array.from({ length: n * runBlocks }, () => Math.floor(u() * levels));
  const zeroPacked = new Uint8Array(n * zeroBytes);
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < runBlocks; b++) {
      zeroPacked[r * zeroBytes + ((b * c.bits) >> 3)] |= zeros[r * runBlocks + b]! << ((b * c.bits) & 7);
    }
  }
  const fractionalZeros = zeros.map((z) => z + 0.375); // exact in float32: float zero points need not be integers
  const rows = aDims.slice(0, -1).reduce((a, b) => a * b, 1);
  const a = Float32Array.from({ length: rows * k }, () => u() - 0.5);
  const zeroOf = (r: number, b: number) =>
    c.zero === 'none'
      ? levels / 2
      : c.zero === 'uint8'
        ? zeros[r * runBlocks + b]!
        : fractionalZeros[r * runBlocks + b]!;
  const feeds: Record<string, ort.Tensor> = {
    A: new ort.Tensor('float32', a, aDims),
    B: new ort.Tensor('uint8', packed, [n, runBlocks, blob]),
    scales:
      c.scaleType === 'float16'
        ? new ort.Tensor('float16', new Uint16Array(n * runBlocks).fill(0x3c00), [n, runBlocks])
        : new ort.Tensor('float32', scales, [n, runBlocks]),
  };
  if (c.zero === 'uint8') feeds.zero = new ort.Tensor('uint8', zeroPacked, [n, zeroBytes]);
  if (c.zero === 'float') feeds.zero = new ort.Tensor('float32', fractionalZeros, [n, runBlocks]);
  const session = await ort.InferenceSession.create(path.join(dir, 'model.onnx'), {
    executionProviders: ['cpu'],
    logSeverityLevel: 4, // the refusals below are expected: keep onnxruntime's own error lines out of the output
  });
  try {
    const y = (await session.run(feeds)).Y!;
    const out = y.data as Float32Array;
    let maxError = 0;
    for (let m = 0; m < rows; m++) {
      for (let r = 0; r < n; r++) {
        let sum = 0;
        for (let j = 0; j < k; j++) {
          const b = Math.floor(j / c.blockSize);
          sum += a[m * k + j]! * (codes[r * k + j]! - zeroOf(r, b)) * scales[r * runBlocks + b]!;
        }
        maxError = Math.max(maxError, Math.abs(out[m * n + r]! - sum));
      }
    }
    return { maxError, dims: y.dims };
  } finally {
    await session.release();
  }
}

describe('MatMulNBits on the CPU provider with B, scales and zero points as graph inputs', () => {
  for (const bits of [2, 4]) {
    for (const zero of ['none', 'uint8', 'float'] as const) {
      it(`${bits} bits, ${zero} zero points: works`, async () => {
        const r = await runCase({ bits, blockSize: 32, n: 40, k: 64, zero });
        expect(r.maxError).toBeLessThan(1e-4);
      });
    }
  }

  it('8 bits works with uint8 zero points', async () => {
    expect((await runCase({ bits: 8, blockSize: 32, n: 40, k: 64, zero: 'uint8' })).maxError).toBeLessThan(1e-3);
  });

  it('8 bits with float zero points is refused at run time (unpacked compute: 2 and 4 bits only)', async () => {
    await expect(runCase({ bits: 8, blockSize: 32, n: 40, k: 64, zero: 'float' })).rejects.toThrow(
      /Only 2b and 4b quantization is supported for unpacked compute/,
    );
  });

  it('3 bits is refused at session creation', async () => {
    await expect(runCase({ bits: 3, blockSize: 32, n: 40, k: 64, zero: 'none' })).rejects.toThrow(
      /Only 2b, 4b and 8b quantization is supported/,
    );
  });

  for (const blockSize of [16, 32, 64, 128, 256]) {
    it(`block_size ${blockSize} works (K = 64 need not be a multiple of it)`, async () => {
      expect((await runCase({ bits: 2, blockSize, n: 24, k: 64, zero: 'float' })).maxError).toBeLessThan(1e-4);
    });
  }

  for (const blockSize of [8, 48, 512]) {
    it(`block_size ${blockSize} is refused`, async () => {
      await expect(runCase({ bits: 2, blockSize, n: 24, k: 64, zero: 'float' })).rejects.toThrow(/block/i);
    });
  }

  it('a partial last block along K works', async () => {
    expect((await runCase({ bits: 2, blockSize: 32, n: 24, k: 80, zero: 'float' })).maxError).toBeLessThan(1e-4);
  });

  it('batched A ([2, 2, 3, K]) against one B works', async () => {
    const r = await runCase({ bits: 2, blockSize: 32, n: 24, k: 64, zero: 'float', aDims: [2, 2, 3, 64] });
    expect(r.dims).toEqual([2, 2, 3, 24]);
    expect(r.maxError).toBeLessThan(1e-4);
  });

  it('float16 scales with a float32 A are refused (scales must have A’s type)', async () => {
    await expect(runCase({ bits: 2, blockSize: 32, n: 24, k: 64, zero: 'none', scaleType: 'float16' })).rejects.toThrow(
      /bound to different types/,
    );
  });

  it('N and K are attributes: a B with another N or K is refused at run time (the capacity is a shape class)', async () => {
    await expect(runCase({ bits: 2, blockSize: 32, n: 24, k: 64, zero: 'float', runN: 32 })).rejects.toThrow(
      /expected to have shape/,
    );
    await expect(
      runCase({ bits: 2, blockSize: 32, n: 24, k: 64, zero: 'float', runK: 96, aDims: [3, 96] }),
    ).rejects.toThrow();
  });
});
