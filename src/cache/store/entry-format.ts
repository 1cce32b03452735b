/**
 * The on-disk form of one SegmentKv ("RKV1"). All numbers are little-endian; every array starts on an 8-byte
 * boundary, so a reader can view the arrays in place instead of copying them.
 *
 *   header (48 bytes)
 *     0  magic "RKV1"
 *     4  u32 format version (STORE_FORMAT_VERSION)
 *     8  u32 flags: the storage layout, 0 = KIVI (SegmentKv), 1 = fused (FusedSegmentKv); any other value is
 *        refused, so a future use cannot be misread
 *    12  u32 payload bytes = file bytes − 48
 *    16  sha256 of the payload (32 bytes)
 *   payload
 *     directory, u32 words:
 *       tokens, firstPosition, layerCount, headCount[layerCount],
 *       per head (layer-major): keptLength, then for keys and for values:
 *         bits, groupSize, tokens, channels, codesBytes, minsCount, scalesCount, hasRaw (0 | 1), rawCount
 *         (fused layout: groupSize is the block size, and two more words follow: centerGroup, centersCount)
 *     zero padding to 8
 *     data, per head in the same order, each array followed by zero padding to 8:
 *       kept (u16), keys.codes (u8), keys.mins (u16), keys.scales (u16), keys.raw (f32, empty when absent),
 *       (fused layout: keys.centers (u16)), then the same for values
 *
 * Every header field is checked directly and everything else is covered by the digest; after the digest matches,
 * the directory is still re-validated against the payload's size and the SegmentKv invariants, so an entry that is
 * consistent on the wire but not as data (an older writer's bug) is refused rather than read out of bounds.
 */
import { createHash } from 'node:crypto';
import type { Bits } from '../cache-config';
import type { FusedHeadKv, FusedSegmentKv } from '../fused/segment';
import type { FusedQuantized } from '../fused/quantize';
import type { QuantizedBlock } from '../quantize';
import { type CachedSegment, type HeadKv, isFused, type SegmentKv } from '../segment-kv';
import { checkSegmentKv, U32_MAX } from './entry-shape';
import { checkFusedSegmentKv } from './fused-entry-shape';

/** Bump when the bytes change meaning: it is part of every key and names the store's folder (`v<N>`). */
export const STORE_FORMAT_VERSION = 1;
export const ENTRY_MAGIC = 'RKV1';
export const ENTRY_HEADER_BYTES = 48;
const DIGEST_OFFSET = 16;
const ALIGN = 8;
const KIVI_FLAGS = 0;
const FUSED_FLAGS = 1;
const BLOCK_WORDS = { [KIVI_FLAGS]: 9, [FUSED_FLAGS]: 11 } as const;
type LayoutFlags = keyof typeof BLOCK_WORDS;

/** A stored entry that cannot be trusted: the caller discards it and recomputes the segment. */
export class CorruptEntryError extends Error {
  override readonly name = 'CorruptEntryError';
}

// Arrays are copied (and viewed) in host byte order; the format is little-endian, which every platform
// onnxruntime-node ships for is. Refusing elsewhere beats writing entries no other machine could read.
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}

function bytesOf(a: Uint8Array | Uint16Array | Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

const NO_RAW = new Float32Array(0);

type AnyBlock = QuantizedBlock | FusedQuantized;

function blockArrays(q: AnyBlock): (Uint8Array | Uint16Array | Float32Array)[] {
  const arrays = [q.codes, q.mins, q.scales, q.raw ?? NO_RAW];
  return 'centers' in q ? [...arrays, q.centers] : arrays;
}

/** The arrays of one head in file order. */
function headArrays(head: HeadKv | FusedHeadKv): (Uint8Array | Uint16Array | Float32Array)[] {
  return [head.kept, ...blockArrays(head.keys), ...blockArrays(head.values)];
}

function blockWords(q: AnyBlock): number[] {
  const hasRaw = q.raw !== undefined;
  const raw = q.raw ?? NO_RAW;
  const words = [
    q.bits,
    'centers' in q ? q.blockSize : q.groupSize,
    q.tokens,
    q.channels,
    q.codes.length,
    q.mins.length,
    q.scales.length,
    +hasRaw,
    raw.length,
  ];
  return 'centers' in q ? [...words, q.centerGroup, q.centers.length] : words;
}

function payloadDigest(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes.subarray(ENTRY_HEADER_BYTES)).digest();
}

/** Serialises a cached segment; throws RangeError / TypeError if it breaks an invariant (entry-shape.ts). */
export function encodeEntry(kv: CachedSegment): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error('the segment store needs a little-endian host');
  const flags: LayoutFlags = isFused(kv) ? FUSED_FLAGS : KIVI_FLAGS;
  if (isFused(kv)) checkFusedSegmentKv(kv);
  else checkSegmentKv(kv);
  const heads: (HeadKv | FusedHeadKv)[] = kv.layers.flat();
  const dirWords = 3 + kv.layers.length + heads.length * (1 + 2 * BLOCK_WORDS[flags]);
  let size = ENTRY_HEADER_BYTES + align(4 * dirWords);
  for (const head of heads) for (const a of headArrays(head)) size += align(a.byteLength);
  if (size - ENTRY_HEADER_BYTES > U32_MAX) throw new RangeError(`segment entry of ${size} bytes exceeds 4 GiB`);

  // Zero-filled, so padding is deterministic and equal SegmentKvs give equal files.
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set(Buffer.from(ENTRY_MAGIC, 'latin1'), 0);
  view.setUint32(4, STORE_FORMAT_VERSION, true);
  view.setUint32(8, flags, true);
  view.setUint32(12, size - ENTRY_HEADER_BYTES, true);

  let at = ENTRY_HEADER_BYTES;
  const word = (n: number): void => {
    view.setUint32(at, n, true);
    at += 4;
  };
  [kv.tokens, kv.firstPosition, kv.layers.length].forEach(word);
  for (const layer of kv.layers) word(layer.length);
  for (const head of heads) {
    word(head.kept.length);
    blockWords(head.keys).forEach(word);
    blockWords(head.values).forEach(word);
  }
  at = align(at);
  for (const head of heads) {
    for (const a of headArrays(head)) {
      bytes.set(bytesOf(a), at);
      at += align(a.byteLength);
    }
  }
  bytes.set(payloadDigest(bytes), DIGEST_OFFSET);
  return bytes;
}

function corrupt(reason: string): never {
  throw new CorruptEntryError(`corrupt segment entry: ${reason}`);
}

/** Checks the header and the digest; returns the bytes (realigned if needed) and a view on them. */
function verified(input: Uint8Array): { bytes: Uint8Array; view: DataView; flags: LayoutFlags } {
  if (input.length < ENTRY_HEADER_BYTES) corrupt(`${input.length} bytes, shorter than the header`);
  // Typed-array views need aligned offsets in their buffer; a misaligned input (a pooled Buffer) is copied once.
  const bytes = input.byteOffset % ALIGN === 0 ? input : new Uint8Array(input);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (Buffer.from(bytes.buffer, bytes.byteOffset, 4).toString('latin1') !== ENTRY_MAGIC) corrupt('bad magic');
  const version = view.getUint32(4, true);
  if (version !== STORE_FORMAT_VERSION) corrupt(`format version ${version}, expected ${STORE_FORMAT_VERSION}`);
  const flags = view.getUint32(8, true);
  if (flags !== KIVI_FLAGS && flags !== FUSED_FLAGS) corrupt('unknown flags');
  const payload = view.getUint32(12, true);
  if (payload !== bytes.length - ENTRY_HEADER_BYTES) {
    corrupt(`header says ${payload} payload bytes, file holds ${bytes.length - ENTRY_HEADER_BYTES}`);
  }
  const stored = bytes.subarray(DIGEST_OFFSET, ENTRY_HEADER_BYTES);
  if (!payloadDigest(bytes).equals(stored)) corrupt('checksum mismatch');
  return { bytes, view, flags };
}

/**
 * Rebuilds the cached segment of an entry, or throws CorruptEntryError. The arrays are views into one buffer
 * holding the entry (no per-array copy); they are the caller's to keep.
 */
export function decodeEntry(input: Uint8Array): CachedSegment {
  if (!LITTLE_ENDIAN) throw new Error('the segment store needs a little-endian host');
  const { bytes, view, flags } = verified(input);
  const blockWordCount = BLOCK_WORDS[flags];
  let at = ENTRY_HEADER_BYTES;
  // Every directory read is bounded by the payload, so a huge count ends in an error after at most
  // payload/4 reads: nothing is allocated from a count before the bytes it describes are known to exist.
  const word = (): number => {
    if (at + 4 > bytes.length) corrupt('directory runs past the end');
    const n = view.getUint32(at, true);
    at += 4;
    return n;
  };
  const tokens = word();
  const firstPosition = word();
  const layerCount = word();
  const headCounts: number[] = [];
  for (let l = 0; l < layerCount; l++) headCounts.push(word());
  type Shape = { kept: number; keys: number[]; values: number[] };
  const shapes: Shape[][] = headCounts.map(() => []);
  for (let l = 0; l < layerCount; l++) {
    for (let h = 0; h < headCounts[l]; h++) {
      const kept = word();
      const keys = Array.from({ length: blockWordCount }, word);
      const values = Array.from({ length: blockWordCount }, word);
      shapes[l].push({ kept, keys, values });
    }
  }

  at = align(at);
  const take = <T>(count: number, width: number, make: (buf: ArrayBufferLike, offset: number, n: number) => T): T => {
    const length = count * width;
    if (at + length > bytes.length) corrupt('an array runs past the end');
    const out = make(bytes.buffer, bytes.byteOffset + at, count);
    at = align(at + length);
    return out;
  };
  const u8 = (n: number) => take(n, 1, (b, o, c) => new Uint8Array(b, o, c));
  const u16 = (n: number) => take(n, 2, (b, o, c) => new Uint16Array(b, o, c));
  const f32 = (n: number) => take(n, 4, (b, o, c) => new Float32Array(b, o, c));
  const block = <K extends QuantizedBlock['kind']>(kind: K, w: number[]): QuantizedBlock & { kind: K } => {
    const [bits, groupSize, blockTokens, channels, codes, mins, scales, hasRaw, raw] = w;
    if (hasRaw > 1) corrupt('bad raw flag');
    const q: QuantizedBlock & { kind: K } = {
      kind,
      bits: bits as Bits, // checked with the rest of the shape below
      groupSize,
      tokens: blockTokens,
      channels,
      codes: u8(codes),
      mins: u16(mins),
      scales: u16(scales),
    };
    const rawData = f32(raw);
    if (hasRaw) q.raw = rawData;
    else if (raw !== 0) corrupt('raw data without the raw flag');
    return q;
  };
  const fusedBlock = (kind: FusedQuantized['kind'], w: number[]): FusedQuantized => {
    const { groupSize, ...rest } = block(kind, w);
    return { ...rest, blockSize: groupSize, centerGroup: w[9], centers: u16(w[10]) };
  };

  const check = (kv: CachedSegment) => {
    try {
      if (isFused(kv)) checkFusedSegmentKv(kv);
      else checkSegmentKv(kv);
    } catch (err) {
      corrupt((err as Error).message);
    }
  };
  if (flags === FUSED_FLAGS) {
    const layers: FusedHeadKv[][] = shapes.map((layer) =>
      layer.map((s) => ({
        kept: u16(s.kept),
        keys: fusedBlock('keys', s.keys),
        values: fusedBlock('values', s.values),
      })),
    );
    if (at !== bytes.length) corrupt(`${bytes.length - at} unexplained bytes after the last array`);
    const kv: FusedSegmentKv = { layout: 'fused', tokens, firstPosition, layers };
    check(kv);
    return kv;
  }
  const layers: HeadKv[][] = shapes.map((layer) =>
    layer.map((s) => ({ kept: u16(s.kept), keys: block('keys', s.keys), values: block('values', s.values) })),
  );
  if (at !== bytes.length) corrupt(`${bytes.length - at} unexplained bytes after the last array`);
  const kv: SegmentKv = { tokens, firstPosition, layers };
  check(kv);
  return kv;
}
