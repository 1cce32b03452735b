/**
 * Cuts a range of text into pieces of at most `maxBody` tokens, between lines (and inside a line only when a
 * single line is over budget). Used for files without a grammar and for declarations too large even when cut
 * between members.
 *
 * Boundaries are content-defined: once a chunk holds half the budget, it ends after the next "anchor" line (a
 * blank line, or a line whose hash is 0 mod 8). Filling every chunk to the brim instead would shift every
 * later boundary when a line is inserted near the top, and all the chunks after an edit would change hash and
 * be prefilled again; with anchors the boundaries fall back in step at the first anchor after the edit.
 */
import { clipRanges, fnv1a, type Piece, type PieceContext } from './piece';
import type { SegmentKind } from './types';

const ANCHOR_MODULUS = 8;

function isAnchorLine(line: string): boolean {
  return line.trim() === '' || fnv1a(line) % ANCHOR_MODULUS === 0;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** End of the longest prefix of `[from, to)` within budget, never between the halves of a surrogate pair. */
function fitPrefix(ctx: PieceContext, from: number, to: number): number {
  const fits = (end: number): boolean => ctx.count(ctx.text.slice(from, end)) <= ctx.maxBody;
  // Exponential probe first: counting the whole (possibly huge) remainder of a line on every step is wasteful.
  let good = from;
  let probe = Math.min(to, from + Math.max(16, ctx.maxBody));
  while (fits(probe)) {
    good = probe;
    if (probe === to) break;
    probe = Math.min(to, from + 2 * (probe - from));
  }
  let bad = probe;
  if (good === to) bad = to + 1;
  while (bad - good > 1) {
    const mid = (good + bad) >>> 1;
    if (fits(mid)) good = mid;
    else bad = mid;
  }
  let end = good;
  if (end > from && end < to && isHighSurrogate(ctx.text.charCodeAt(end - 1))) end--;
  if (end === from) end = Math.min(to, from + (isHighSurrogate(ctx.text.charCodeAt(from)) ? 2 : 1));
  return end;
}

export interface ChunkAttributes {
  kind: SegmentKind;
  names: string[];
  protected: Array<[number, number]>;
}

/** Chunks `[from, to)` of `ctx.text` into pieces of at most `ctx.maxBody` tokens each. */
export function chunkLines(ctx: PieceContext, from: number, to: number, attrs: ChunkAttributes): Piece[] {
  const { text } = ctx;
  const pieces: Piece[] = [];
  const emit = (start: number, end: number, tokens: number): void => {
    if (start >= end) return;
    pieces.push({
      start,
      end,
      kind: attrs.kind,
      names: attrs.names,
      protected: clipRanges(attrs.protected, start, end),
      tokens,
    });
  };
  let chunkStart = from;
  let chunkTokens = 0;
  let pos = from;
  while (pos < to) {
    const newline = text.indexOf('\n', pos);
    const lineEnd = newline === -1 || newline >= to ? to : newline + 1;
    const line = text.slice(pos, lineEnd);
    const lineTokens = ctx.count(line);
    if (lineTokens > ctx.maxBody) {
      emit(chunkStart, pos, chunkTokens);
      for (let start = pos; start < lineEnd;) {
        const end = fitPrefix(ctx, start, lineEnd);
        emit(start, end, ctx.count(text.slice(start, end)));
        start = end;
      }
      chunkStart = pos = lineEnd;
      chunkTokens = 0;
      continue;
    }
    if (chunkTokens + lineTokens > ctx.maxBody) {
      emit(chunkStart, pos, chunkTokens);
      chunkStart = pos;
      chunkTokens = 0;
    }
    chunkTokens += lineTokens;
    pos = lineEnd;
    if (chunkTokens * 2 >= ctx.maxBody && isAnchorLine(line)) {
      emit(chunkStart, pos, chunkTokens);
      chunkStart = pos;
      chunkTokens = 0;
    }
  }
  emit(chunkStart, to, chunkTokens);
  return pieces;
}
