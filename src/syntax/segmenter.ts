/**
 * File text (+ syntax tree) → the file's segments: top-level pieces, oversized ones split, small neighbours
 * merged, each wrapped with the model family's file header and hashed.
 *
 * The result depends only on (path, text, language, options): the document store relies on that to make an
 * incrementally maintained list equal, hash for hash, to a fresh segmentation of the final text.
 */
import { createHash } from 'node:crypto';
import type { Tree } from 'web-tree-sitter';
import { getLanguage, languageForPath, type LanguageId } from './languages';
import { chunkLines } from './line-chunker';
import { loadLanguage, parseText } from './parser';
import { fnv1a, unifyKinds, type Piece, type PieceContext } from './piece';
import { TokenMemo } from './token-memo';
import {
  DEFAULT_MAX_SEGMENT_TOKENS,
  DEFAULT_MIN_SEGMENT_TOKENS,
  type CharRange,
  type Segment,
  type SegmentOptions,
} from './types';
import { splitPiece, topLevelPieces, type UnitContext } from './units';

/** One small piece in this many starts a new segment even when the current one could take it (see mergePieces). */
const MERGE_ANCHOR_MODULUS = 4;

export interface SegmentInput {
  /** Repository-relative path, forward slashes. */
  path: string;
  text: string;
  /** null: cut by lines. */
  language: LanguageId | null;
  /** The syntax tree of `text` (required when `language` is set). */
  tree: Tree | null;
}

/**
 * Merges runs of small pieces. A piece joins the current segment when both are under the minimum and the sum
 * fits the maximum. Greedy filling alone would let one grown piece shift the grouping of every piece after it;
 * so a small piece whose content hash is 0 mod 4 starts a new segment once the current one holds half the
 * minimum, and groupings before and after an edit fall back in step at such anchors.
 */
function mergePieces(ctx: PieceContext, pieces: Piece[]): Piece[][] {
  const groups: Piece[][] = [];
  let current: Piece[] = [];
  let tokens = 0;
  for (const piece of pieces) {
    const fits = tokens < ctx.minBody && piece.tokens < ctx.minBody && tokens + piece.tokens <= ctx.maxBody;
    const anchor =
      tokens * 2 >= ctx.minBody && fnv1a(ctx.text.slice(piece.start, piece.end)) % MERGE_ANCHOR_MODULUS === 0;
    if (current.length > 0 && fits && !anchor) {
      current.push(piece);
      tokens += piece.tokens;
      continue;
    }
    if (current.length > 0) groups.push(current);
    current = [piece];
    tokens = piece.tokens;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

function countNewlines(text: string, from = 0, to = text.length): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Sorted, coalesced protected ranges of a segment, relative to its text (header included). */
function relativeRanges(pieces: Piece[], start: number, end: number, headerLength: number): CharRange[] {
  const ranges: Array<[number, number]> = [];
  for (const p of pieces) {
    for (const [s, e] of p.protected) {
      const a = Math.max(s, start);
      const b = Math.min(e, end);
      if (a < b) ranges.push([a - start + headerLength, b - start + headerLength]);
    }
  }
  ranges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out: CharRange[] = [];
  for (const [s, e] of ranges) {
    const last = out[out.length - 1];
    if (last && s <= last.end) last.end = Math.max(last.end, e);
    else out.push({ start: s, end: e });
  }
  return out;
}

function buildSegments(
  path: string,
  text: string,
  header: string,
  groups: Piece[][],
  count: (t: string) => number,
): Segment[] {
  const segments: Segment[] = [];
  let line = 0;
  let byte = 0;
  for (const group of groups) {
    const start = group[0]!.start;
    const end = group[group.length - 1]!.end;
    const body = text.slice(start, end);
    const full = header + body;
    const bytes = Buffer.byteLength(body, 'utf8');
    const newlines = countNewlines(body);
    const lastIsNewline = body.endsWith('\n');
    segments.push({
      path,
      index: segments.length,
      kind: unifyKinds(group.map((p) => p.kind)),
      names: [...new Set(group.flatMap((p) => p.names))],
      start,
      end,
      startByte: byte,
      endByte: byte + bytes,
      startLine: line,
      endLine: line + newlines - (lastIsNewline ? 1 : 0),
      header,
      headerLength: header.length,
      text: full,
      hash: sha256(full),
      tokens: count(full),
      protected: relativeRanges(group, start, end, header.length),
    });
    line += newlines;
    byte += bytes;
  }
  return segments;
}

/** Segments a file whose tree (if it has a grammar) is already parsed. Synchronous and deterministic. */
export function segmentParsed(input: SegmentInput, options: SegmentOptions, memo?: TokenMemo): Segment[] {
  const tokenMemo = memo ?? new TokenMemo(options.countTokens);
  const count = (t: string): number => tokenMemo.count(t);
  const header = options.fileHeader(input.path);
  const headerTokens = count(header);
  const max = options.maxSegmentTokens ?? DEFAULT_MAX_SEGMENT_TOKENS;
  const min = options.minSegmentTokens ?? DEFAULT_MIN_SEGMENT_TOKENS;
  const ctx: PieceContext = {
    text: input.text,
    count,
    maxBody: Math.max(1, max - headerTokens),
    minBody: Math.max(0, min - headerTokens),
  };
  let pieces: Piece[];
  if (input.text.length === 0) {
    pieces = [];
  } else if (input.language && input.tree) {
    const uctx: UnitContext = { ...ctx, lang: getLanguage(input.language) };
    pieces = topLevelPieces(uctx, input.tree).flatMap((p) => splitPiece(uctx, p));
  } else {
    const whole = { start: 0, end: input.text.length, kind: 'lines' as const, names: [], protected: [] };
    const tokens = count(input.text);
    pieces = tokens <= ctx.maxBody ? [{ ...whole, tokens }] : chunkLines(ctx, 0, input.text.length, whole);
  }
  return buildSegments(input.path, input.text, header, mergePieces(ctx, pieces), count);
}

/**
 * Segments a file from its text alone: picks the language by path, loads its grammar, parses, segments and
 * frees the tree. This is what a fresh index does, and what an incrementally kept list must equal.
 */
export async function segmentText(path: string, text: string, options: SegmentOptions): Promise<Segment[]> {
  const language = languageForPath(path);
  if (!language) return segmentParsed({ path, text, language: null, tree: null }, options);
  await loadLanguage(language);
  const tree = parseText(language, text);
  try {
    return segmentParsed({ path, text, language, tree }, options);
  } finally {
    tree.delete();
  }
}
