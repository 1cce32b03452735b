/**
 * Maps character ranges of a text (what the syntax layer marks as protected) to its tokens. Each token's span is
 * found by streaming the decode: a token owns the characters its decode step emitted, so byte-level tokens that
 * split a multibyte character hand it to the token that completes it. O(tokens).
 */
import type { Detokenizer } from '../engine/generate';

export function tokenCharSpans(detokenizer: Detokenizer, ids: number[]): { start: number; end: number }[] {
  const stream = detokenizer.createStreamDecoder();
  const spans: { start: number; end: number }[] = [];
  let offset = 0;
  for (const id of ids) {
    const piece = stream.push(id);
    spans.push({ start: offset, end: offset + piece.length });
    offset += piece.length;
  }
  return spans;
}

/** 1 for every token overlapping any of `ranges` (character offsets into the decoded text of `ids`). */
export function protectedTokenMask(
  detokenizer: Detokenizer,
  ids: number[],
  ranges: { start: number; end: number }[],
): Uint8Array {
  const mask = new Uint8Array(ids.length);
  const spans = tokenCharSpans(detokenizer, ids);
  const sorted = [...ranges].sort((a, b) => a.start - b.start);
  let r = 0;
  for (let t = 0; t < spans.length; t++) {
    const { start, end } = spans[t]!;
    while (r < sorted.length && sorted[r]!.end <= start) r++;
    for (let k = r; k < sorted.length && sorted[k]!.start < end; k++) {
      if (sorted[k]!.end > start && end > start) {
        mask[t] = 1;
        break;
      }
    }
  }
  return mask;
}
