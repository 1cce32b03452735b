/**
 * The quantized block format shared by keys and values, and the argument checks both quantizers run.
 *
 * A block is one (segment, layer, kv head): `tokens` kept tokens × `channels` (= headDim) channels, token-major.
 * The object is plain data (numbers and typed arrays) so the store can write each array to disk as is and rebuild
 * the object from them; `checkQuantized` re-validates every length so a corrupt or mismatched entry throws instead
 * of being read out of bounds.
 */
import type { Bits } from '../cache-config';

/** Bit widths that are packed into codes; 16 stores raw float32 instead. */
export type PackedBits = 2 | 4 | 8;

export interface QuantizedBlock {
  /** Which axis the groups run along: keys per channel over tokens, values per token over channels. */
  kind: 'keys' | 'values';
  bits: Bits;
  /** Keys: tokens per group (the last group may be shorter). Values: channels per group (already capped at d). */
  groupSize: number;
  /** True number of tokens: a key tail group is shorter than groupSize, never padded. */
  tokens: number;
  channels: number;
  /** Packed codes, token-major rows of channels·bits/8 bytes (see pack.ts). Empty at 16 bits. */
  codes: Uint8Array;
  /** fp16 bit patterns. Keys: [group][channel]; values: [token][group]. Empty at 16 bits. */
  mins: Uint16Array;
  scales: Uint16Array;
  /** 16 bits only: the float32 values themselves, token-major. */
  raw?: Float32Array;
}

export interface QuantizedKeys extends QuantizedBlock {
  kind: 'keys';
}

export interface QuantizedValues extends QuantizedBlock {
  kind: 'values';
}

function isPositiveInt(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0;
}

export function isBits(bits: number): bits is Bits {
  return bits === 2 || bits === 4 || bits === 8 || bits === 16;
}

/** Rejects shapes the layout cannot represent, before any allocation. */
export function checkBlockArgs(block: Float32Array, tokens: number, d: number, bits: number, groupSize: number): void {
  if (!isBits(bits)) throw new RangeError(`bits must be 2, 4, 8 or 16, got ${bits}`);
  if (!Number.isSafeInteger(tokens) || tokens < 0) throw new RangeError(`tokens must be a non-negative integer`);
  if (!isPositiveInt(d)) throw new RangeError(`channels must be a positive integer, got ${d}`);
  if (!isPositiveInt(groupSize)) throw new RangeError(`groupSize must be a positive integer, got ${groupSize}`);
  // Rows must start on a byte boundary so that a token's codes can be addressed (and sliced) independently.
  if (bits !== 16 && (d * bits) % 8 !== 0) throw new RangeError(`channels·bits (${d}·${bits}) must be a multiple of 8`);
  // A longer buffer is allowed (a preallocated capacity); only the first tokens·d elements are ever read.
  if (block.length < tokens * d) {
    throw new RangeError(`block has ${block.length} elements, fewer than tokens·channels = ${tokens * d}`);
  }
}

/** The 16-bit path: a copy of the live part of the block, so later writes to the caller's buffer cannot leak in. */
export function rawBlock<K extends QuantizedBlock['kind']>(
  kind: K,
  block: Float32Array,
  tokens: number,
  d: number,
  groupSize: number,
): QuantizedBlock & { kind: K } {
  return {
    kind,
    bits: 16,
    groupSize,
    tokens,
    channels: d,
    codes: new Uint8Array(0),
    mins: new Uint16Array(0),
    scales: new Uint16Array(0),
    raw: block.slice(0, tokens * d),
  };
}

/** Validates a (possibly deserialized) block against its own header; `statCount` = expected mins/scales length. */
export function checkQuantized(q: QuantizedBlock, kind: QuantizedBlock['kind'], statCount: number): void {
  if (q.kind !== kind) throw new TypeError(`expected quantized ${kind}, got ${q.kind}`);
  if (!isBits(q.bits)) throw new RangeError(`bits must be 2, 4, 8 or 16, got ${q.bits}`);
  if (!Number.isSafeInteger(q.tokens) || q.tokens < 0 || !isPositiveInt(q.channels) || !isPositiveInt(q.groupSize)) {
    throw new RangeError(`${kind}: bad header (tokens ${q.tokens}, channels ${q.channels}, group ${q.groupSize})`);
  }
  const n = q.tokens * q.channels;
  if (q.bits === 16) {
    if (!q.raw || q.raw.length !== n) throw new RangeError(`16-bit ${kind}: raw must hold ${n} values`);
    return;
  }
  const codeBytes = (n * q.bits) / 8;
  if (q.codes.length !== codeBytes)
    throw new RangeError(`${kind}: ${q.codes.length} code bytes, expected ${codeBytes}`);
  if (q.mins.length !== statCount || q.scales.length !== statCount) {
    throw new RangeError(`${kind}: ${q.mins.length} mins / ${q.scales.length} scales, expected ${statCount}`);
  }
}
