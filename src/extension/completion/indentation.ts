import type { StepContext } from './context';
import { analyse, isCloserLine, nextNonBlank } from './structure';
import { gcd, indentWidth, isBlank, leadingWhitespace, makeIndent, splitLines } from './text';

/**
 * Rewrites the completion's leading whitespace in the document's style: tabs in a space-indented document become
 * one unit each, space runs in a tab-indented document become tabs (the model's space unit is guessed from the
 * completion itself, since models tend to emit the indentation they saw most in training rather than this file's).
 * The first line keeps its whitespace unless it starts the line (blank line prefix).
 */
export function normaliseIndentStyle(text: string, ctx: StepContext): string {
  const lines = splitLines(text);
  const touches = (i: number): boolean => (i > 0 || isBlank(ctx.linePrefix)) && !isBlank(lines[i]!);
  const useTabs = ctx.indentUnit === '\t';
  const spaceUnit = useTabs
    ? guessSpaceUnit(
        lines.filter((_, i) => touches(i)),
        ctx.tabSize,
      )
    : 0;
  return lines
    .map((line, i) => {
      if (!touches(i)) return line;
      const ws = leadingWhitespace(line);
      const rest = line.slice(ws.length);
      if (!useTabs) return ws.includes('\t') ? ' '.repeat(indentWidth(ws, ctx.unitWidth)) + rest : line;
      if (!ws.includes(' ')) return line;
      const tabs = ws.replace(/ /g, '').length;
      const spaces = ws.length - tabs;
      // Tabs first, then the spaces: leftover spaces below one unit are alignment and stay spaces.
      return '\t'.repeat(tabs + Math.floor(spaces / spaceUnit)) + ' '.repeat(spaces % spaceUnit) + rest;
    })
    .join('\n');
}

function guessSpaceUnit(lines: readonly string[], fallback: number): number {
  let unit = 0;
  for (const line of lines) {
    const run = /^ */.exec(line)![0].length;
    if (run >= 2) unit = gcd(unit, run);
  }
  return unit >= 2 ? unit : fallback;
}

/**
 * Repairs completions whose later lines were written relative to column 0 instead of the cursor line's indentation,
 * detectable only where the structure forces an indentation: after a line that opened a bracket block or a Python
 * `:` block, the body must sit deeper than the opener and an immediately closing bracket at the opener's column.
 * When that is violated every later line is shifted right by the same amount, keeping their relative layout.
 */
export function rebaseRelativeIndent(text: string, ctx: StepContext): string {
  const s = analyse(text, ctx);
  const first = nextNonBlank(s.lines, 1);
  if (first < 0) return text;
  const cursorLine = ctx.linePrefix + s.lines[0]!;
  const openedBracket = s.depthAfterLine[0]! > 0;
  const openedColon = ctx.lang.colonOpensBlock === true && endsWithColon(cursorLine, ctx);
  if (!openedBracket && !openedColon) return text;

  const width = indentWidth(s.lines[first]!, ctx.tabSize);
  let delta = 0;
  if (openedBracket && isCloserLine(s.lines[first]!)) delta = s.cursorIndent - width;
  else if (width <= s.cursorIndent) delta = s.cursorIndent + ctx.unitWidth - width;
  if (delta <= 0) return text;

  return s.lines
    .map((line, i) => {
      if (i === 0 || isBlank(line)) return line;
      const ws = leadingWhitespace(line);
      return makeIndent(indentWidth(ws, ctx.tabSize) + delta, ctx.indentUnit, ctx.tabSize) + line.slice(ws.length);
    })
    .join('\n');
}

function endsWithColon(line: string, ctx: StepContext): boolean {
  let code = line;
  for (const marker of ctx.lang.lineComments) {
    const at = code.indexOf(marker);
    if (at >= 0) code = code.slice(0, at);
  }
  return code.trimEnd().endsWith(':');
}
