/**
 * Deterministic SegmentKvs built with the real quantizers, for the store's tests (round trips, crash runs in a
 * child process) and benchmarks: the same seed gives the same object in any process, so a reader can check what
 * a writer stored without the two sharing memory.
 */
import type { Bits } from '../cache-config';
import { type FusedHeadKv, type FusedSegmentKv, quantizeFusedHead } from '../fused/segment';
import { quantizeKeys, quantizeValues } from '../quantize';
import { seededUniform, syntheticBlock } from '../quantize/synthetic';
import type { CachedSegment, HeadKv, SegmentKv } from '../segment-kv';

export interface SyntheticKvShape {
  layers: number;
  kvHeads: number;
  headDim: number;
  /** Segment tokens before eviction (≤ 65536: kept indices are Uint16). */
  tokens: number;
  /** Bits per layer, cycled: layer l uses kBits[l % kBits.length]. */
  kBits: Bits[];
  vBits: Bits[];
  groupSize: number;
  /** Expected fraction of tokens kept per head; each head draws its own, 0 gives an empty kept list. */
  keepRatio: number;
  firstPosition?: number;
}

/** Ascending token indices, each kept with probability `ratio`. */
function keptIndices(tokens: number, ratio: number, rand: () => number): Uint16Array {
  const kept: number[] = [];
  for (let t = 0; t < tokens; t++) if (rand() < ratio) kept.push(t);
  return Uint16Array.from(kept);
}

/** Random kept lists and float blocks per (layer, head), the same for a seed in any process, quantized by `make`. */
function syntheticLayers<H>(
  seed: number,
  shape: SyntheticKvShape,
  make: (layer: number, kept: Uint16Array, keys: Float32Array, values: Float32Array) => H,
): H[][] {
  const rand = seededUniform(seed);
  const d = shape.headDim;
  return Array.from({ length: shape.layers }, (_, l) =>
    Array.from({ length: shape.kvHeads }, (_, h) => {
      const kept = keptIndices(shape.tokens, shape.keepRatio, rand);
      const blockSeed = (seed * 7919 + l * 131 + h) >>> 0;
      const keys = syntheticBlock(kept.length, d, blockSeed, { outlierChannels: d > 2 ? [1] : [] });
      return make(l, kept, keys, syntheticBlock(kept.length, d, blockSeed ^ 0x5bd1e995));
    }),
  );
}

export function syntheticSegmentKv(seed: number, shape: SyntheticKvShape): SegmentKv {
  const d = shape.headDim;
  const layers = syntheticLayers<HeadKv>(seed, shape, (l, kept, keys, values) => ({
    kept,
    keys: quantizeKeys(keys, kept.length, d, shape.kBits[l % shape.kBits.length], shape.groupSize),
    values: quantizeValues(values, kept.length, d, shape.vBits[l % shape.vBits.length], shape.groupSize),
  }));
  return { tokens: shape.tokens, firstPosition: shape.firstPosition ?? 4, layers };
}

/**
 * The fused-layout counterpart (src/cache/fused), from the same random blocks: groupSize is both MatMulNBits
 * block size (channels for keys, tokens for values) and the keys' center group; smoothing by powers of two.
 */
export function syntheticFusedSegmentKv(seed: number, shape: SyntheticKvShape): FusedSegmentKv {
  const d = shape.headDim;
  const smooth = Float32Array.from({ length: d }, (_, c) => 2 ** (c % 3));
  const keyBits = Array.from({ length: shape.layers }, (_, l) => shape.kBits[l % shape.kBits.length]);
  const layers = syntheticLayers<FusedHeadKv>(seed, shape, (l, kept, keys, values) => {
    const quant = {
      keyBits,
      valueBits: shape.vBits[l % shape.vBits.length],
      keyBlock: shape.groupSize,
      valueBlock: shape.groupSize,
      centerKeys: true,
    };
    return quantizeFusedHead(kept, keys, values, d, l, quant, smooth);
  });
  return { layout: 'fused', tokens: shape.tokens, firstPosition: shape.firstPosition ?? 4, layers };
}

type StoredArray = Uint8Array | Uint16Array | Float32Array;

function sameArray(a: StoredArray | undefined, b: StoredArray | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.constructor !== b.constructor || a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/**
 * The first difference between two cached segments (either layout), or null if they are bit-identical: same
 * layout and shape, same scalars, same array classes and bytes (so NaN payloads and -0 count, unlike a value
 * comparison), optional arrays present in both or neither. Byte comparison keeps multi-MB entries cheap to check,
 * where an element-wise deep equal takes seconds.
 */
export function segmentKvDifference(a: CachedSegment, b: CachedSegment): string | null {
  if ((a.layout ?? 'kivi') !== (b.layout ?? 'kivi')) return 'layout';
  if (a.tokens !== b.tokens || a.firstPosition !== b.firstPosition) return 'tokens or firstPosition';
  if (a.layers.length !== b.layers.length) return 'layer count';
  for (let l = 0; l < a.layers.length; l++) {
    if (a.layers[l].length !== b.layers[l].length) return `layer ${l}: head count`;
    for (let h = 0; h < a.layers[l].length; h++) {
      const [x, y] = [a.layers[l][h], b.layers[l][h]];
      if (!sameArray(x.kept, y.kept)) return `layer ${l} head ${h}: kept`;
      for (const part of ['keys', 'values'] as const) {
        const p = x[part] as unknown as Record<string, unknown>;
        const q = y[part] as unknown as Record<string, unknown>;
        const where = `layer ${l} head ${h} ${part}`;
        for (const field of new Set([...Object.keys(p), ...Object.keys(q)])) {
          if (!(field in p) || !(field in q)) return `${where}: ${field} present in one only`;
          const [u, v] = [p[field], q[field]];
          const same =
            ArrayBuffer.isView(u) && ArrayBuffer.isView(v) ? sameArray(u as StoredArray, v as StoredArray) : u === v;
          if (!same) return `${where}: ${field}`;
        }
      }
    }
  }
  return null;
}
