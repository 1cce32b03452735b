import { scanBrackets } from './brackets';
import type { StepContext } from './context';
import { indentWidth, isBlank, splitLines } from './text';

/**
 * The shape of a completion as seen from the cursor line, computed on text: where its lines start, how deep the
 * brackets opened on the cursor line are nested after each line, and the first closer that closes a bracket opened
 * before the cursor line (the completion walking out of the enclosing block).
 */
export interface Structure {
  readonly lines: readonly string[];
  /** Offset in the completion text where each line starts. */
  readonly lineStarts: readonly number[];
  /** Indentation (columns) of the cursor line, including indentation the completion itself adds on a blank line. */
  readonly cursorIndent: number;
  /** Number of brackets opened on the cursor line or in the completion, still open at the end of each line. */
  readonly depthAfterLine: readonly number[];
  /** The first closer, on the completion's second line or later, with nothing left open to close. */
  readonly overflow?: { readonly offset: number; readonly line: number };
}

export function analyse(text: string, ctx: StepContext): Structure {
  const lines = splitLines(text);
  const lineStarts: number[] = [];
  let start = 0;
  for (const line of lines) {
    lineStarts.push(start);
    start += line.length + 1;
  }
  // On a blank line the model writes the indentation itself; the line's indentation is the sum of both.
  const cursorLine = isBlank(ctx.linePrefix) ? ctx.linePrefix + lines[0]! : ctx.linePrefix;
  const cursorIndent = indentWidth(cursorLine, ctx.tabSize);

  const base = ctx.linePrefix.length;
  const events = scanBrackets(ctx.linePrefix + text, ctx.lang);
  const stack: string[] = [];
  const depthAfterLine: number[] = [];
  let overflow: Structure['overflow'];
  let line = 0;
  const closeLinesUpTo = (offset: number): void => {
    while (line < lines.length - 1 && offset >= lineStarts[line + 1]!) {
      depthAfterLine.push(stack.length);
      line++;
    }
  };
  for (const e of events) {
    const offset = e.offset - base;
    closeLinesUpTo(offset);
    if (e.open) {
      stack.push(e.char);
    } else if (stack.length > 0) {
      // Even a mismatched closer ends the innermost construct: the text is approximate, keep going.
      stack.pop();
    } else if (offset >= 0 && line > 0 && overflow === undefined) {
      // On the cursor line an unmatched closer finishes a construct from the lines above (`foo(\n  a|` + `, b);`):
      // that is the cursor line's own business. On a later line it means the completion left its block.
      overflow = { offset, line };
    }
  }
  closeLinesUpTo(Number.POSITIVE_INFINITY);
  depthAfterLine.push(stack.length);
  return { lines, lineStarts, cursorIndent, depthAfterLine, overflow };
}

/** Index of the first non-blank line at or after `from`, or -1. */
export function nextNonBlank(lines: readonly string[], from: number): number {
  for (let i = from; i < lines.length; i++) if (!isBlank(lines[i]!)) return i;
  return -1;
}

/** A line made only of closing brackets and trailing punctuation: `}`, `});`, `]`, `),`. */
export function isCloserLine(line: string): boolean {
  return /^\s*[)\]}][)\]};,]*\s*$/.test(line);
}
