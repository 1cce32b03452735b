/**
 * The invariants of a fused-layout segment (src/cache/fused) for the store, as entry-shape.ts checks KIVI
 * segments: array classes and every length derived from the block's own header, so that an entry consistent on
 * the wire but not as data is refused before the fused block assembler reads it.
 */
import { channelRowBytes, type FusedQuantized } from '../fused/quantize';
import type { FusedSegmentKv } from '../fused/segment';
import { checkSegmentShape, expectArray, isU32 } from './entry-shape';

function expectLength(what: string, actual: number, expected: number): void {
  if (actual !== expected) throw new RangeError(`${what}: ${actual} elements, expected ${expected}`);
}

export function checkFusedBlock(q: FusedQuantized, kind: FusedQuantized['kind'], where: string): void {
  if (q.kind !== kind) throw new RangeError(`${where}: kind ${q.kind}, expected ${kind}`);
  if (!isU32(q.tokens)) throw new RangeError(`${where}: tokens ${q.tokens} is not a u32`);
  if (!isU32(q.channels) || q.channels === 0) throw new RangeError(`${where}: bad channel count ${q.channels}`);
  if (!isU32(q.blockSize) || q.blockSize === 0) throw new RangeError(`${where}: bad block size ${q.blockSize}`);
  if (!isU32(q.centerGroup)) throw new RangeError(`${where}: bad center group ${q.centerGroup}`);
  expectArray(q.codes, Uint8Array, `${where}.codes`);
  expectArray(q.mins, Uint16Array, `${where}.mins`);
  expectArray(q.scales, Uint16Array, `${where}.scales`);
  expectArray(q.centers, Uint16Array, `${where}.centers`);
  if (q.raw !== undefined) expectArray(q.raw, Float32Array, `${where}.raw`);
  const { tokens: n, channels: d, blockSize: bs } = q;
  if (q.bits === 16) {
    if (q.codes.length || q.mins.length || q.scales.length || q.centers.length || q.centerGroup) {
      throw new RangeError(`${where}: 16-bit with codes`);
    }
    if (q.raw === undefined) throw new RangeError(`${where}: 16-bit without raw data`);
    expectLength(`${where}.raw`, q.raw.length, n * d);
    return;
  }
  if (q.bits !== 2 && q.bits !== 4 && q.bits !== 8) throw new RangeError(`${where}: bad bits ${q.bits}`);
  if (q.raw !== undefined) throw new RangeError(`${where}: raw data on a ${q.bits}-bit block`);
  if (kind === 'keys') {
    if (d % bs !== 0) throw new RangeError(`${where}: block size ${bs} does not divide ${d} channels`);
    if ((d * q.bits) % 8 !== 0) throw new RangeError(`${where}: rows do not end on a byte`);
    expectLength(`${where}.codes`, q.codes.length, (n * d * q.bits) / 8);
    expectLength(`${where}.mins`, q.mins.length, n * (d / bs));
    expectLength(`${where}.scales`, q.scales.length, n * (d / bs));
    const groups = q.centerGroup > 0 ? Math.ceil(n / q.centerGroup) : 0;
    expectLength(`${where}.centers`, q.centers.length, groups * d);
  } else {
    if (q.centerGroup || q.centers.length) throw new RangeError(`${where}: values are never centered`);
    const groups = Math.ceil(n / bs);
    expectLength(`${where}.codes`, q.codes.length, d * channelRowBytes(n, q.bits));
    expectLength(`${where}.mins`, q.mins.length, d * groups);
    expectLength(`${where}.scales`, q.scales.length, d * groups);
  }
}

export function checkFusedSegmentKv(kv: FusedSegmentKv): void {
  if (kv.layout !== 'fused') throw new RangeError(`layout ${String(kv.layout)} is not fused`);
  checkSegmentShape(kv, (head, where) => {
    checkFusedBlock(head.keys, 'keys', `${where} keys`);
    checkFusedBlock(head.values, 'values', `${where} values`);
  });
}
