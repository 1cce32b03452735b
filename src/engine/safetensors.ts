/**
 * A safetensors reader and writer written for RepoKV (no dependency): an 8-byte little-endian header length, a
 * UTF-8 JSON header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {...}}`, then the raw
 * little-endian tensor data, with offsets relative to the start of that data section.
 *
 * Only the header is read eagerly (checkpoint files can be many GB); tensor bytes are read on demand, in chunks,
 * straight into the float32 output so that peak memory stays close to the size of the result.
 */
import * as fs from 'node:fs';
import type { StorageDType } from './checkpoint-types';
import { CheckpointError } from './errors';

/**
 * Every dtype the safetensors format defines, with its size in bytes. The header parser accepts all of them so that
 * a checkpoint carrying an extra non-float tensor (an integer buffer, say) is still readable; only reading such a
 * tensor (or a checkpoint requiring it) fails, with an "unsupported dtype" error naming it.
 */
const DTYPE_SIZES = new Map<string, number>(
  (
    [
      [1, 'BOOL U8 I8 F8_E4M3 F8_E5M2'],
      [2, 'I16 U16 F16 BF16'],
      [4, 'I32 U32 F32'],
      [8, 'I64 U64 F64'],
    ] as const
  ).flatMap(([size, names]) => names.split(' ').map((n) => [n, size] as const)),
);

export const SUPPORTED_DTYPES: readonly StorageDType[] = ['F32', 'F16', 'BF16'];

export function isStorageDType(dtype: string): dtype is StorageDType {
  return (SUPPORTED_DTYPES as readonly string[]).includes(dtype);
}

/** One tensor as described by a safetensors header, with absolute byte positions already resolved. */
export interface SafetensorsTensor {
  name: string;
  /** Any dtype the format defines; check `isStorageDType` before relying on it being a float. */
  dtype: string;
  shape: number[];
  file: string;
  /** `data_offsets` as written in the header (relative to the data section). */
  dataOffsets: [number, number];
  /** Absolute byte offset of the tensor in the file. */
  byteOffset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  /** Absolute offset of the data section (8 + header length). */
  dataStart: number;
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** The format's own limit (the reference implementation rejects larger headers); guards against absurd allocations. */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Reads exactly `length` bytes at `position` or throws: a short read means the file is shorter than it claims. */
function readExactly(fd: number, file: string, target: Uint8Array, position: number, what: string): void {
  let done = 0;
  while (done < target.length) {
    const n = fs.readSync(fd, target, done, target.length - done, position + done);
    if (n === 0) {
      const msg = `unexpected end of file reading ${what} (${done}/${target.length} bytes at ${position})`;
      throw new CheckpointError(`${msg}; the file was truncated or changed`, file);
    }
    done += n;
  }
}

/**
 * Parses and validates the header of a safetensors file without reading its tensor data: header length within the
 * file, JSON well-formed, each entry well-typed, known dtype, shape consistent with the byte length, offsets inside
 * the data section, no two tensors overlapping, and a data section long enough for every tensor.
 */
export function readSafetensorsHeader(file: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new CheckpointError(`cannot open safetensors file: ${(e as Error).message}`, file);
  }
  try {
    const fileSize = fs.fstatSync(fd).size;
    if (fileSize < 8) {
      throw new CheckpointError(`file is ${fileSize} bytes, too small for the 8-byte header length`, file);
    }
    const lenBytes = new Uint8Array(8);
    readExactly(fd, file, lenBytes, 0, 'the header length');
    const headerLen = new DataView(lenBytes.buffer).getBigUint64(0, true);
    if (headerLen > BigInt(fileSize - 8)) {
      throw new CheckpointError(
        `header length ${headerLen} is larger than the file (${fileSize} bytes): not a safetensors file, or truncated`,
        file,
      );
    }
    const n = Number(headerLen);
    if (n > MAX_HEADER_BYTES) {
      throw new CheckpointError(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit of the format`, file);
    }
    const headerBytes = new Uint8Array(n);
    readExactly(fd, file, headerBytes, 8, 'the header');
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
    } catch (e) {
      throw new CheckpointError(`header is not valid UTF-8 JSON (${(e as Error).message})`, file);
    }
    return validateHeader(json, file, fileSize, 8 + n);
  } finally {
    fs.closeSync(fd);
  }
}

function validateHeader(json: unknown, file: string, fileSize: number, dataStart: number): SafetensorsHeader {
  if (!isRecord(json)) throw new CheckpointError('header JSON is not an object', file);
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, raw] of Object.entries(json)) {
    if (name === '__metadata__') {
      if (!isRecord(raw)) throw new CheckpointError('__metadata__ is not an object', file, '__metadata__');
      for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') metadata[k] = v;
      continue;
    }
    tensors.set(name, validateEntry(name, raw, file, dataStart));
  }

  // Overlaps and bounds are checked on the tensors sorted by start offset; empty tensors occupy no bytes.
  const dataLength = fileSize - dataStart;
  const sorted = [...tensors.values()]
    .filter((t) => t.byteLength > 0)
    .sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0]);
  let prev: SafetensorsTensor | undefined;
  let contiguous = true;
  for (const t of sorted) {
    const expectedStart = prev ? prev.dataOffsets[1] : 0;
    if (prev && t.dataOffsets[0] < prev.dataOffsets[1]) {
      throw new CheckpointError(
        `tensors overlap: ${t.name} data_offsets [${t.dataOffsets.join(', ')}] start inside ${prev.name} [${prev.dataOffsets.join(', ')}]`,
        file,
        t.name,
      );
    }
    if (t.dataOffsets[0] !== expectedStart) contiguous = false;
    prev = t;
  }
  const needed = prev ? prev.dataOffsets[1] : 0;
  if (needed > dataLength) {
    // A header whose tensors tile the data section from 0 without gaps is self-consistent, so a data section that
    // is too short means the file lost its tail (an interrupted download). Otherwise some offset points nowhere.
    if (contiguous) {
      throw new CheckpointError(
        `file is truncated: the header describes ${needed} bytes of tensor data but only ${dataLength} follow it ` +
          `(${needed - dataLength} missing; re-download the file)`,
        file,
        prev!.name,
      );
    }
    const bad = sorted.find((t) => t.dataOffsets[1] > dataLength)!;
    throw new CheckpointError(
      `data_offsets [${bad.dataOffsets.join(', ')}] lie outside the data section (${dataLength} bytes)`,
      file,
      bad.name,
    );
  }
  return { file, fileSize, dataStart, tensors, metadata };
}

function validateEntry(name: string, raw: unknown, file: string, dataStart: number): SafetensorsTensor {
  if (!isRecord(raw)) throw new CheckpointError('header entry is not an object', file, name);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string') throw new CheckpointError('dtype is missing or not a string', file, name);
  const size = DTYPE_SIZES.get(dtype);
  if (size === undefined) {
    throw new CheckpointError(`unsupported dtype ${JSON.stringify(dtype)} (not a safetensors dtype)`, file, name);
  }
  if (!Array.isArray(shape) || !shape.every(isNonNegInt)) {
    throw new CheckpointError(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`, file, name);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegInt) || offsets[0] > offsets[1]) {
    throw new CheckpointError(`data_offsets ${JSON.stringify(offsets)} are not [begin <= end]`, file, name);
  }
  let count = 1;
  for (const d of shape) count *= d;
  const [begin, end] = offsets as [number, number];
  if (!Number.isSafeInteger(count * size) || count * size !== end - begin) {
    throw new CheckpointError(
      `shape [${shape.join(', ')}] of ${dtype} needs ${count * size} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
      file,
      name,
    );
  }
  return {
    name,
    dtype,
    shape: shape as number[],
    file,
    dataOffsets: [begin, end],
    byteOffset: dataStart + begin,
    byteLength: end - begin,
  };
}

// ---- dtype conversions (bit-exact, on 32-bit patterns) ----

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

function f32Bits(x: number): number {
  scratchF32[0] = x;
  return scratchU32[0];
}

/** Widens bfloat16 bits to float32 exactly: bf16 is the top half of an f32. */
export function bf16BitsToF32(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0];
}

/** Narrows to bfloat16 with round-to-nearest-even; overflow goes to ±inf, NaN stays NaN (quiet). */
export function f32ToBf16Bits(x: number): number {
  const b = f32Bits(x);
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

let f16Table: Float32Array | undefined;

/**
 * All 65536 half-precision values widened to float32, built once. Entries are constructed as f32 bit patterns so
 * that infinities and NaN payloads carry over exactly; subnormals are renormalised into f32 normals.
 */
function f16ToF32Table(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0x1f) {
      bits[h] = sign | 0x7f800000 | (mant << 13);
    } else if (exp !== 0) {
      bits[h] = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant === 0) {
      bits[h] = sign;
    } else {
      // Subnormal: value = mant * 2^-24, exactly representable as an f32 normal.
      table[h] = (sign ? -mant : mant) * 2 ** -24;
    }
  }
  f16Table = table;
  return table;
}

/** Widens IEEE half-precision bits to float32 exactly (subnormals, ±inf, NaN included). */
export function f16BitsToF32(h: number): number {
  return f16ToF32Table()[h & 0xffff];
}

/** Narrows to IEEE half precision with round-to-nearest-even, producing subnormals, ±0, ±inf and NaN as needed. */
export function f32ToF16Bits(x: number): number {
  const b = f32Bits(x);
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // exponent re-biased for f16 (127 -> 15)
  if (e >= 0x1f) return sign | 0x7c00;
  let q: number;
  let rem: number;
  let half: number;
  if (e <= 0) {
    // The result is an f16 subnormal m16 * 2^-24 (or rounds up into the smallest normal). With the implicit bit
    // restored, full * 2^(exp - 150) = m16 * 2^-24 gives m16 = full >> (14 - e); below 2^-25 everything rounds to 0.
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    q = full >>> shift;
    rem = full & ((1 << shift) - 1);
    half = 1 << (shift - 1);
  } else {
    q = (e << 10) | (mant >>> 13);
    rem = mant & 0x1fff;
    half = 0x1000;
  }
  // A carry out of the mantissa correctly bumps the exponent (and reaches 0x7c00 = inf on overflow).
  if (rem > half || (rem === half && (q & 1) === 1)) q++;
  return sign | q;
}

// ---- reading ----

/** What the reader needs to know about a tensor; both `SafetensorsTensor` and the checkpoint's `TensorEntry` fit. */
export interface TensorLocation {
  name: string;
  dtype: string;
  file: string;
  byteOffset: number;
  byteLength: number;
}

export interface ReadOptions {
  /** An already-open descriptor for `file`, left open; otherwise the file is opened and closed around the read. */
  fd?: number;
  /** Bytes read per `readSync` call (rounded down to a whole number of elements); default 16 MiB. */
  chunkBytes?: number;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Reads one tensor and converts it to float32. F16 and BF16 are widened exactly; other dtypes are refused. */
export function readTensorAsFloat32(t: TensorLocation, opts: ReadOptions = {}): Float32Array {
  if (!isStorageDType(t.dtype)) {
    const msg = `unsupported dtype ${t.dtype} (RepoKV reads ${SUPPORTED_DTYPES.join(', ')})`;
    throw new CheckpointError(msg, t.file, t.name);
  }
  const size = t.dtype === 'F32' ? 4 : 2;
  const count = t.byteLength / size;
  const out = new Float32Array(count);
  const fd = opts.fd ?? fs.openSync(t.file, 'r');
  try {
    const chunk = Math.max(size, Math.floor((opts.chunkBytes ?? 16 * 1024 * 1024) / 4) * 4);
    if (t.dtype === 'F32' && LITTLE_ENDIAN) {
      // Read straight into the result's memory: no intermediate copy.
      const bytes = new Uint8Array(out.buffer);
      for (let off = 0; off < t.byteLength; off += chunk) {
        const len = Math.min(chunk, t.byteLength - off);
        readExactly(fd, t.file, bytes.subarray(off, off + len), t.byteOffset + off, `tensor ${t.name}`);
      }
      return out;
    }
    const buf = new Uint8Array(Math.min(chunk, t.byteLength));
    const view = new DataView(buf.buffer);
    const outBits = new Uint32Array(out.buffer);
    const table = t.dtype === 'F16' ? f16ToF32Table() : undefined;
    let idx = 0;
    for (let off = 0; off < t.byteLength; off += buf.length) {
      const len = Math.min(buf.length, t.byteLength - off);
      readExactly(fd, t.file, buf.subarray(0, len), t.byteOffset + off, `tensor ${t.name}`);
      if (t.dtype === 'F32') {
        for (let p = 0; p < len; p += 4) out[idx++] = view.getFloat32(p, true);
      } else if (table) {
        for (let p = 0; p < len; p += 2) out[idx++] = table[view.getUint16(p, true)];
      } else {
        for (let p = 0; p < len; p += 2) outBits[idx++] = view.getUint16(p, true) << 16;
      }
    }
    return out;
  } finally {
    if (opts.fd === undefined) fs.closeSync(fd);
  }
}

/** Convenience for tests and tools: parse the header of `file` and read tensor `name` as float32. */
export function readSafetensorsTensor(file: string, name: string): Float32Array {
  const t = readSafetensorsHeader(file).tensors.get(name);
  if (!t) throw new CheckpointError('no such tensor in this file', file, name);
  return readTensorAsFloat32(t);
}

// ---- writing (fixtures and benchmarks) ----

export interface TensorToWrite {
  name: string;
  dtype: StorageDType;
  shape: number[];
  data: Float32Array;
}

/**
 * Writes a safetensors file, converting float32 data to the requested dtype (round-to-nearest-even for F16/BF16).
 * The header is space-padded to a multiple of 8 bytes, as the reference writer does, so tensor data is aligned.
 */
export function writeSafetensors(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const names = new Set<string>(['__metadata__']);
  let offset = 0;
  for (const t of tensors) {
    if (names.has(t.name)) throw new Error(`writeSafetensors: reserved or duplicate name ${t.name}`);
    names.add(t.name);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new Error(`writeSafetensors: ${t.name} has ${t.data.length} values but shape [${t.shape.join(', ')}]`);
    }
    const bytes = count * (t.dtype === 'F32' ? 4 : 2);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const rawLen = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (rawLen % 8)) % 8);
  const headerBuf = Buffer.from(json, 'utf8');
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(headerBuf.length));

  const fd = fs.openSync(path, 'w');
  try {
    // One tensor encoded at a time; writeSync may write less than asked, hence the inner loop.
    for (const part of [lenBuf, headerBuf, ...tensors]) {
      const bytes = part instanceof Uint8Array ? part : encodeTensor(part);
      for (let done = 0; done < bytes.length;) done += fs.writeSync(fd, bytes, done, bytes.length - done);
    }
  } finally {
    fs.closeSync(fd);
  }
}

function encodeTensor(t: TensorToWrite): Uint8Array {
  const n = t.data.length;
  if (t.dtype === 'F32') {
    // Copy the bit patterns as they are (NaN payloads included); byte-swap only on a big-endian host.
    if (LITTLE_ENDIAN) return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    const buf = Buffer.alloc(n * 4);
    for (let i = 0; i < n; i++) buf.writeFloatLE(t.data[i], i * 4);
    return buf;
  }
  const convert = t.dtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
  const buf = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) buf.writeUInt16LE(convert(t.data[i]), i * 2);
  return buf;
}
