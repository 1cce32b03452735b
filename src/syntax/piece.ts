/**
 * A piece: a contiguous range of a file with what the segmenter knows about it. Pieces tile the file; the
 * segmenter splits the ones over budget and merges runs of small ones into segments.
 */
import type { Node } from 'web-tree-sitter';
import type { SegmentKind } from './types';

export interface Piece {
  /** UTF-16 offsets in the file, half-open. */
  start: number;
  end: number;
  kind: SegmentKind;
  names: string[];
  /** How many of `names` the piece declares itself (the rest are its members'); all when absent. */
  ownNames?: number;
  /** Absolute `[start, end)` ranges of the file to protect from eviction. */
  protected: Array<[number, number]>;
  /** Token count of the body (by the injected counter). */
  tokens: number;
  /** The declaration node, kept so that an oversized piece can be split between its members. */
  node?: Node;
}

/** What a segmenting pass needs to know about the file and the budget. */
export interface PieceContext {
  text: string;
  count: (text: string) => number;
  /** Token budget of a body: maxSegmentTokens minus the header's tokens (at least 1). */
  maxBody: number;
  /** Bodies below this are merged with small neighbours: minSegmentTokens minus the header's tokens. */
  minBody: number;
}

/** FNV-1a, 32 bits: a cheap content hash for boundary anchors (not a cache key). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The kind of a union of pieces: comments don't count, several kinds make `mixed`. */
export function unifyKinds(kinds: SegmentKind[]): SegmentKind {
  const real = new Set(kinds.filter((k) => k !== 'comment'));
  if (real.size === 0) return 'comment';
  if (real.size === 1) return [...real][0]!;
  return 'mixed';
}

/** Protected ranges that intersect `[start, end)`, clipped to it. */
export function clipRanges(ranges: Array<[number, number]>, start: number, end: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const [s, e] of ranges) {
    const a = Math.max(s, start);
    const b = Math.min(e, end);
    if (a < b) out.push([a, b]);
  }
  return out;
}
