import type { StepContext } from './context';
import { analyse, isCloserLine, nextNonBlank, type Structure } from './structure';
import { indentWidth, isBlank } from './text';

/**
 * Text after the cursor that a multi-line suggestion could sensibly be inserted before: nothing, or only closing
 * brackets, quotes and terminators (what auto-closing leaves behind). Anything else means the cursor is inside a
 * line of real code, where a multi-line insertion would push that code to the end of the suggestion.
 */
const TRIVIAL_SUFFIX = /^[\s)\]}'"`;,]*$/;

/** In the middle of a line, keep only the suggestion's first line. */
export function firstLineOnlyMidLine(text: string, ctx: StepContext): string {
  if (TRIVIAL_SUFFIX.test(ctx.lineSuffix)) return text;
  const eol = text.indexOf('\n');
  return eol < 0 ? text : text.slice(0, eol);
}

/**
 * Cuts a multi-line suggestion where its block ends, on text alone (a tree-sitter check can refine this later):
 * - brackets: a closer, on the second line or later, of a bracket opened before the cursor line means the completion
 *   walked out of its block; a block opened on the cursor line ends when its brackets are all closed again;
 * - indentation (indentation and `end`-keyword languages): a line indented left of the cursor line ends the block;
 *   when the cursor line opened an indented block, so does a line back at the cursor line's indentation.
 * The earliest cut wins. The first line is never cut: it completes the cursor line, whatever it closes.
 */
export function cutAtBlockEnd(text: string, ctx: StepContext): string {
  if (ctx.lang.block === 'none') return text;
  const s = analyse(text, ctx);
  if (s.lines.length < 2) return text;
  const cuts = [text.length, bracketCut(s, ctx) ?? text.length];
  if (ctx.lang.block === 'indent' || ctx.lang.block === 'keyword') cuts.push(indentCut(s, ctx) ?? text.length);
  return text.slice(0, Math.min(...cuts));
}

function bracketCut(s: Structure, ctx: StepContext): number | undefined {
  let cut: number | undefined;
  if (s.overflow) {
    const line = s.lines[s.overflow.line]!;
    // A lone closer (`}`, `});`) is kept when the document has not closed the block yet: the user is writing the
    // block's end. When the next document line already closes something, the closer would be a duplicate.
    const keep = isCloserLine(line) && !nextDocumentLineCloses(ctx);
    cut = keep ? endOfLine(s, s.overflow.line) : s.overflow.offset;
  }
  if (s.depthAfterLine[0]! > 0) {
    const closedAt = s.depthAfterLine.findIndex((depth, i) => i > 0 && depth === 0);
    if (closedAt > 0) cut = Math.min(cut ?? Number.POSITIVE_INFINITY, endOfLine(s, closedAt));
  }
  return cut;
}

function indentCut(s: Structure, ctx: StepContext): number | undefined {
  const indent = s.cursorIndent;
  const next = nextNonBlank(s.lines, 1);
  // A block opened by indentation alone; bracket blocks are the bracket rule's business.
  const opened = s.depthAfterLine[0] === 0 && next > 0 && indentWidth(s.lines[next]!, ctx.tabSize) > indent;
  for (let i = 1; i < s.lines.length; i++) {
    const line = s.lines[i]!;
    if (isBlank(line) || isCloserLine(line)) continue;
    const width = indentWidth(line, ctx.tabSize);
    if (width > indent || (width === indent && !opened)) continue;
    const word = /^\s*([A-Za-z_]+)/.exec(line)?.[1] ?? '';
    if (width === indent && ctx.lang.continuations.includes(word)) continue;
    // `end` (Ruby, Lua, Julia...) and shell's `fi`/`done`/`esac` close the block the cursor line opened: keep it.
    if (ctx.lang.block === 'keyword' && width === indent && /^(end|fi|done|esac)$/.test(word)) return endOfLine(s, i);
    return s.lineStarts[i]! - 1;
  }
  return undefined;
}

function endOfLine(s: Structure, line: number): number {
  return s.lineStarts[line]! + s.lines[line]!.length;
}

function nextDocumentLineCloses(ctx: StepContext): boolean {
  const i = nextNonBlank(ctx.followingLines, 0);
  return i >= 0 && /^\s*[)\]}]/.test(ctx.followingLines[i]!);
}
