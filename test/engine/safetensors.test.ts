import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/engine/errors';
import {
  bf16BitsToF32,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  readSafetensorsHeader,
  readSafetensorsTensor,
  readTensorAsFloat32,
  writeSafetensors,
} from '../../src/engine/safetensors';
import { rewriteSafetensorsHeader } from '../helpers/fixture-checkpoint';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-st-'));
});
afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

let counter = 0;
function tmpFile(): string {
  return path.join(tmp, `t${counter++}.safetensors`);
}

/** Asserts that `fn` throws a CheckpointError whose message contains every fragment. */
function expectCheckpointError(fn: () => unknown, ...fragments: (string | RegExp)[]): CheckpointError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CheckpointError);
  const msg = (err as Error).message;
  for (const f of fragments) {
    if (typeof f === 'string') expect(msg).toContain(f);
    else expect(msg).toMatch(f);
  }
  return err as CheckpointError;
}

/** Writes a small valid two-tensor F32 file (a [2,3] then b [4]) and returns its path. */
function smallFile(): string {
  const file = tmpFile();
  writeSafetensors(file, [
    { name: 'a', dtype: 'F32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    { name: 'b', dtype: 'F32', shape: [4], data: Float32Array.from([7, 8, 9, 10]) },
  ]);
  return file;
}

const f32 = (x: number): number => Math.fround(x);

describe('round trips', () => {
  it('F32 is bit-exact, including -0, infinities, NaN, f32 subnormals and extremes', () => {
    const values = Float32Array.from([
      0,
      -0,
      1,
      -2.5,
      Infinity,
      -Infinity,
      NaN,
      1e-45,
      -1.17549435e-38,
      3.4028235e38,
      0.1,
    ]);
    const file = tmpFile();
    writeSafetensors(file, [{ name: 'x', dtype: 'F32', shape: [values.length], data: values }], { format: 'pt' });
    const back = readSafetensorsTensor(file, 'x');
    expect(new Uint32Array(back.buffer)).toEqual(new Uint32Array(values.buffer));
    expect(readSafetensorsHeader(file).metadata).toEqual({ format: 'pt' });
  });

  it('F16 keeps representable values exactly: normals, subnormals, ±0, ±inf, NaN', () => {
    const values = [
      0,
      -0,
      1,
      -1,
      0.5,
      65504,
      -65504,
      2 ** -14,
      2 ** -24,
      -(2 ** -24),
      3 * 2 ** -24,
      2 ** -14 - 2 ** -24,
    ];
    values.push(Infinity, -Infinity, 1 + 2 ** -10, 1024 + 1, 0.099975586);
    const data = Float32Array.from([...values, NaN]);
    const file = tmpFile();
    writeSafetensors(file, [{ name: 'h', dtype: 'F16', shape: [data.length], data }]);
    expect(readSafetensorsHeader(file).tensors.get('h')?.byteLength).toBe(data.length * 2);
    const back = readSafetensorsTensor(file, 'h');
    for (let i = 0; i < values.length; i++) expect(Object.is(back[i], f32(values[i]))).toBe(true);
    expect(Number.isNaN(back[values.length])).toBe(true);
  });

  it('F16 narrowing rounds to nearest even, overflows to inf, underflows to ±0', () => {
    const cases: [number, number][] = [
      [1 + 2 ** -11, 1], // tie, 1 is even
      [1 + 3 * 2 ** -11, 1 + 2 ** -9], // tie, rounds up to even
      [1 + 2 ** -11 + 2 ** -20, 1 + 2 ** -10], // above the tie
      [65519, 65504], // just below the rounding boundary to inf
      [65520, Infinity], // tie at the top rounds to inf
      [1e6, Infinity],
      [2 ** -25, 0], // half the smallest subnormal: tie to even (0)
      [2 ** -25 + 2 ** -35, 2 ** -24],
      [3 * 2 ** -25, 2 * 2 ** -24], // subnormal tie goes to even (2)
      [-(2 ** -30), -0],
      [2 ** -14 - 2 ** -26, 2 ** -14], // rounds up out of the subnormals into the smallest normal
    ];
    const data = Float32Array.from(cases.map((c) => c[0]));
    const file = tmpFile();
    writeSafetensors(file, [{ name: 'h', dtype: 'F16', shape: [data.length], data }]);
    const back = readSafetensorsTensor(file, 'h');
    cases.forEach(([, want], i) => expect(Object.is(back[i], want), `case ${i}: ${back[i]} vs ${want}`).toBe(true));
  });

  it('F16: every one of the 65536 bit patterns survives widen-then-narrow', () => {
    for (let h = 0; h < 65536; h++) {
      const x = f16BitsToF32(h);
      const isNaN16 = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
      if (isNaN16) expect(Number.isNaN(x)).toBe(true);
      else if (f32ToF16Bits(x) !== h)
        throw new Error(`f16 0x${h.toString(16)} -> ${x} -> 0x${f32ToF16Bits(x).toString(16)}`);
    }
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
  });

  it('BF16 keeps representable values exactly and rounds to nearest even', () => {
    const exact = [0, -0, 1, -3.5, 2 ** -133, 3.3895314e38, Infinity, -Infinity, 0.099609375];
    const rounded: [number, number][] = [
      [1 + 2 ** -8, 1], // tie, even
      [1 + 3 * 2 ** -8, 1 + 2 ** -6], // tie, rounds to even upwards
      [1 + 2 ** -8 + 2 ** -20, 1 + 2 ** -7],
      [3.4028235e38, Infinity], // f32 max rounds beyond bf16 max
    ];
    const data = Float32Array.from([...exact, ...rounded.map((r) => r[0]), NaN]);
    const file = tmpFile();
    writeSafetensors(file, [{ name: 'b', dtype: 'BF16', shape: [data.length], data }]);
    const back = readSafetensorsTensor(file, 'b');
    exact.forEach((v, i) => expect(Object.is(back[i], f32(v))).toBe(true));
    rounded.forEach(([, want], i) => expect(back[exact.length + i]).toBe(want));
    expect(Number.isNaN(back[data.length - 1])).toBe(true);
    for (let h = 0; h < 65536; h++) {
      const x = bf16BitsToF32(h);
      if (Number.isNaN(x)) continue;
      if (f32ToBf16Bits(x) !== h) throw new Error(`bf16 0x${h.toString(16)} does not round-trip`);
    }
  });

  it('reads correctly across chunk boundaries for every dtype', () => {
    const data = new Float32Array(1001);
    // Values with at most 7 significant bits, so that even BF16 stores them exactly.
    for (let i = 0; i < data.length; i++) data[i] = ((i % 256) - 128) / 16;
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const file = tmpFile();
      writeSafetensors(file, [
        { name: 'pad', dtype, shape: [3], data: Float32Array.from([9, 9, 9]) },
        { name: 'x', dtype, shape: [7, 11, 13], data },
      ]);
      const t = readSafetensorsHeader(file).tensors.get('x')!;
      expect(t.shape).toEqual([7, 11, 13]);
      for (const chunkBytes of [4, 12, 100, 1 << 20]) expect(readTensorAsFloat32(t, { chunkBytes })).toEqual(data);
      const fd = fs.openSync(file, 'r');
      expect(readTensorAsFloat32(t, { fd })).toEqual(data);
      fs.closeSync(fd);
    }
  });

  it('writes a header padded to 8 bytes and accepts empty tensors', () => {
    const file = tmpFile();
    writeSafetensors(file, [
      { name: 'empty', dtype: 'F16', shape: [0, 4], data: new Float32Array(0) },
      { name: 'scalar', dtype: 'F32', shape: [], data: Float32Array.from([42]) },
    ]);
    const h = readSafetensorsHeader(file);
    expect(h.dataStart % 8).toBe(0);
    expect(readSafetensorsTensor(file, 'empty').length).toBe(0);
    expect(Array.from(readSafetensorsTensor(file, 'scalar'))).toEqual([42]);
  });
});

describe('malformed files', () => {
  it('header length larger than the file', () => {
    const file = tmpFile();
    const buf = Buffer.alloc(64);
    buf.writeBigUInt64LE(1_000_000n);
    fs.writeFileSync(file, buf);
    expectCheckpointError(() => readSafetensorsHeader(file), file, 'header length 1000000 is larger than the file');
  });

  it('file too small for the length prefix', () => {
    const file = tmpFile();
    fs.writeFileSync(file, Buffer.from([1, 2, 3]));
    expectCheckpointError(() => readSafetensorsHeader(file), file, 'too small');
  });

  it('header not JSON', () => {
    const file = tmpFile();
    const json = Buffer.from('{"a": {"dtype": "F32", ', 'utf8');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    fs.writeFileSync(file, Buffer.concat([len, json, Buffer.alloc(16)]));
    expectCheckpointError(() => readSafetensorsHeader(file), file, 'header is not valid UTF-8 JSON');
  });

  it('offsets outside the data section', () => {
    const file = smallFile();
    rewriteSafetensorsHeader(file, (h) => {
      h.b.data_offsets = [4096, 4112];
    });
    const err = expectCheckpointError(() => readSafetensorsHeader(file), file, '[b]', 'outside the data section');
    expect(err.field).toBe('b');
  });

  it('overlapping tensors', () => {
    const file = smallFile();
    rewriteSafetensorsHeader(file, (h) => {
      h.b.data_offsets = [16, 32];
    });
    expectCheckpointError(() => readSafetensorsHeader(file), file, 'tensors overlap', 'b', 'a');
  });

  it('shape contradicting the byte length', () => {
    const file = smallFile();
    rewriteSafetensorsHeader(file, (h) => {
      h.a.shape = [3, 3];
    });
    expectCheckpointError(
      () => readSafetensorsHeader(file),
      file,
      '[a]',
      'shape [3, 3] of F32 needs 36 bytes',
      'span 24',
    );
  });

  it('dtype unknown to the format is refused at parse time, naming the tensor', () => {
    const file = smallFile();
    rewriteSafetensorsHeader(file, (h) => {
      h.a.dtype = 'Q4_K';
    });
    expectCheckpointError(() => readSafetensorsHeader(file), file, '[a]', 'unsupported dtype "Q4_K"');
  });

  it('a non-float dtype (I64) parses, but reading it is an "unsupported dtype" error naming the tensor', () => {
    const file = smallFile();
    rewriteSafetensorsHeader(file, (h) => {
      h.b.dtype = 'I64';
      h.b.shape = [2];
    });
    expect(readSafetensorsHeader(file).tensors.get('b')?.dtype).toBe('I64');
    expect(Array.from(readSafetensorsTensor(file, 'a'))).toEqual([1, 2, 3, 4, 5, 6]);
    expectCheckpointError(() => readSafetensorsTensor(file, 'b'), file, '[b]', 'unsupported dtype I64');
  });

  it('truncated file (last bytes cut off)', () => {
    const file = smallFile();
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 5));
    expectCheckpointError(() => readSafetensorsHeader(file), file, 'file is truncated', '5 missing');
  });

  it('a file that shrinks after its header was read fails the read, not silently', () => {
    const file = smallFile();
    const t = readSafetensorsHeader(file).tensors.get('b')!;
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 8));
    expectCheckpointError(() => readTensorAsFloat32(t), file, 'unexpected end of file', 'tensor b');
  });

  it('missing file', () => {
    const file = path.join(tmp, 'nope.safetensors');
    expectCheckpointError(() => readSafetensorsHeader(file), file, 'cannot open');
  });
});
