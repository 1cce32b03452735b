/**
 * The invariants a SegmentKv must hold to be stored, checked on both sides of the disk: before writing (a
 * producer bug surfaces at `put`, not as an entry we would later call corrupt) and after reading (a checksummed
 * but inconsistent entry, e.g. from a buggy older writer, is refused instead of handed to attention code).
 */
import type { QuantizedBlock } from '../quantize';
import { keyGroupCount } from '../quantize/keys';
import { valueGroupSize } from '../quantize/values';
import { checkQuantized } from '../quantize/block';
import type { SegmentKv } from '../segment-kv';

/** Header words are u32. */
export const U32_MAX = 0xffffffff;

export function isU32(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0 && n <= U32_MAX;
}

type ArrayClass = { new (...args: never[]): unknown; name: string };

export function expectArray(value: unknown, ctor: ArrayClass, what: string): void {
  if (!(value instanceof ctor)) throw new TypeError(`${what} must be a ${ctor.name}`);
}

/** Expected number of fp16 (min, scale) entries of a block, from its own header. */
function statCount(q: QuantizedBlock): number {
  if (q.kind === 'keys') return keyGroupCount(q.tokens, q.groupSize) * q.channels;
  return q.tokens * (q.channels / valueGroupSize(q.channels, q.groupSize));
}

export function checkBlock(q: QuantizedBlock, kind: QuantizedBlock['kind'], where: string): void {
  if (!isU32(q.tokens)) throw new RangeError(`${where}: tokens ${q.tokens} is not a u32`);
  if (!isU32(q.channels) || q.channels === 0) throw new RangeError(`${where}: bad channel count ${q.channels}`);
  if (!isU32(q.groupSize) || q.groupSize === 0) throw new RangeError(`${where}: bad group size ${q.groupSize}`);
  expectArray(q.codes, Uint8Array, `${where}.codes`);
  expectArray(q.mins, Uint16Array, `${where}.mins`);
  expectArray(q.scales, Uint16Array, `${where}.scales`);
  if (q.raw !== undefined) expectArray(q.raw, Float32Array, `${where}.raw`);
  if (q.bits === 16) {
    // The raw path carries no codes or statistics; anything there would be bytes nobody reads.
    if (q.codes.length || q.mins.length || q.scales.length) throw new RangeError(`${where}: 16-bit with codes`);
  } else {
    if (q.raw !== undefined) throw new RangeError(`${where}: raw data on a ${q.bits}-bit block`);
    if ((q.channels * q.bits) % 8 !== 0) throw new RangeError(`${where}: rows do not end on a byte`);
  }
  checkQuantized(q, kind, statCount(q));
}

/** Throws a RangeError or TypeError naming the first broken invariant. */
export function checkSegmentKv(kv: SegmentKv): void {
  checkSegmentShape(kv, (head, where) => {
    checkBlock(head.keys, 'keys', `${where} keys`);
    checkBlock(head.values, 'values', `${where} values`);
  });
}

interface ShapedSegment<H> {
  tokens: number;
  firstPosition: number;
  layers: H[][];
}

/**
 * What every stored segment must hold whatever its layout: u32 scalars, layers of heads, each head's kept indices
 * ascending within the segment and matching its keys' and values' token counts; `checkHead` checks the blocks.
 */
export function checkSegmentShape<
  H extends { kept: Uint16Array; keys: { tokens: number }; values: { tokens: number } },
>(kv: ShapedSegment<H>, checkHead: (head: H, where: string) => void): void {
  if (!isU32(kv.tokens)) throw new RangeError(`tokens ${kv.tokens} is not a u32`);
  if (!isU32(kv.firstPosition)) throw new RangeError(`firstPosition ${kv.firstPosition} is not a u32`);
  if (!Array.isArray(kv.layers)) throw new TypeError('layers must be an array');
  kv.layers.forEach((layer, l) => {
    if (!Array.isArray(layer)) throw new TypeError(`layer ${l} must be an array of heads`);
    layer.forEach((head, h) => {
      const where = `layer ${l} head ${h}`;
      expectArray(head.kept, Uint16Array, `${where}.kept`);
      checkHead(head, where);
      const n = head.kept.length;
      if (head.keys.tokens !== n || head.values.tokens !== n) {
        throw new RangeError(
          `${where}: ${n} kept tokens but keys/values hold ${head.keys.tokens}/${head.values.tokens}`,
        );
      }
      checkKeptIndices(head.kept, kv.tokens, where);
    });
  });
}

/** Kept indices address the segment's own tokens, ascending: positions are derived from them at query time. */
export function checkKeptIndices(kept: Uint16Array, tokens: number, where: string): void {
  for (let i = 0; i < kept.length; i++) {
    const t = kept[i];
    if (t >= tokens || (i > 0 && t <= kept[i - 1])) {
      throw new RangeError(`${where}: kept[${i}] = ${t} is out of order or beyond ${tokens} tokens`);
    }
  }
}
