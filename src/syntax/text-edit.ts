/**
 * Applies one VS Code content change to a text and describes it the way `Tree.edit` wants it.
 *
 * Units: web-tree-sitter 0.27 parses a JS string as UTF-16 and reports (and expects) indices and columns in
 * UTF-16 code units, the same units as VS Code's offsets and characters, so no conversion is needed. Rows
 * count '\n' only, which agrees with VS Code's lines for '\n' and '\r\n' documents (VS Code normalises lone
 * '\r'). Points are computed here from offsets rather than taken from the change, so that the tree and the
 * text can never disagree on where an edit happened.
 */
import type { ContentChange, Position } from './types';

export interface TreePoint {
  row: number;
  column: number;
}

/** The fields of web-tree-sitter's `Edit`. */
export interface TreeEditInput {
  startIndex: number;
  oldEndIndex: number;
  newEndIndex: number;
  startPosition: TreePoint;
  oldEndPosition: TreePoint;
  newEndPosition: TreePoint;
}

export class ContentChangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContentChangeError';
  }
}

/** Row and column of `offset` in `text`. */
export function pointAt(text: string, offset: number): TreePoint {
  let row = 0;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    row++;
    lineStart = i + 1;
  }
  return { row, column: offset - lineStart };
}

/** The point reached after writing `inserted` at `start`. */
function advance(start: TreePoint, inserted: string): TreePoint {
  const lastNewline = inserted.lastIndexOf('\n');
  if (lastNewline === -1) return { row: start.row, column: start.column + inserted.length };
  let rows = 0;
  for (let i = inserted.indexOf('\n'); i !== -1; i = inserted.indexOf('\n', i + 1)) rows++;
  return { row: start.row + rows, column: inserted.length - lastNewline - 1 };
}

/** Offset of a VS Code position; the character is clamped to the line as VS Code's `offsetAt` does. */
export function offsetAt(text: string, pos: Position): number {
  if (pos.line < 0 || pos.character < 0) throw new ContentChangeError(`negative position ${JSON.stringify(pos)}`);
  let lineStart = 0;
  for (let line = 0; line < pos.line; line++) {
    const nl = text.indexOf('\n', lineStart);
    if (nl === -1) throw new ContentChangeError(`line ${pos.line} is past the end of the document`);
    lineStart = nl + 1;
  }
  let lineEnd = text.indexOf('\n', lineStart);
  if (lineEnd === -1) lineEnd = text.length;
  else if (lineEnd > lineStart && text.charCodeAt(lineEnd - 1) === 13) lineEnd--; // '\r\n' is one line end
  return Math.min(lineStart + pos.character, lineEnd);
}

function samePoint(p: TreePoint, pos: Position): boolean {
  return p.row === pos.line && p.column === pos.character;
}

/**
 * Applies `change` to `text`. Trusts `rangeOffset`/`rangeLength` when given and checks that they agree with
 * `range` (a disagreement means the client sent changes against another version of the text).
 */
export function applyContentChange(text: string, change: ContentChange): { text: string; edit: TreeEditInput } {
  const { range } = change;
  const start = change.rangeOffset ?? offsetAt(text, range.start);
  const end = change.rangeLength !== undefined ? start + change.rangeLength : offsetAt(text, range.end);
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > text.length) {
    throw new ContentChangeError(`change [${start}, ${end}) is outside the document (length ${text.length})`);
  }
  const startPosition = pointAt(text, start);
  const oldEndPosition = pointAt(text, end);
  if (!samePoint(startPosition, range.start) || !samePoint(oldEndPosition, range.end)) {
    throw new ContentChangeError(
      `change range ${JSON.stringify(range)} does not match offsets [${start}, ${end}) ` +
        `(${startPosition.row}:${startPosition.column}-${oldEndPosition.row}:${oldEndPosition.column})`,
    );
  }
  const newText = text.slice(0, start) + change.text + text.slice(end);
  return {
    text: newText,
    edit: {
      startIndex: start,
      oldEndIndex: end,
      newEndIndex: start + change.text.length,
      startPosition,
      oldEndPosition,
      newEndPosition: advance(startPosition, change.text),
    },
  };
}
