import { resolveContext, type CompletionContext, type StepContext } from './context';
import { normaliseIndentStyle, rebaseRelativeIndent } from './indentation';
import { dropRepeatedFollowingLines, removeSuffixOverlap } from './repetition';
import { cutAtBlockEnd, firstLineOnlyMidLine } from './scope';
import { isBlank, splitLines } from './text';

export type { CompletionContext, StepContext } from './context';
export { DEFAULT_MAX_LINES } from './context';

/**
 * One clean-up rule: takes the suggestion so far and returns it changed, unchanged, or null to drop it. Steps are
 * small and independent so that the caller can insert its own (a tree-sitter block check, say) between them.
 */
export type PostprocessStep = (text: string, ctx: StepContext) => string | null;

/** Special tokens a model can leak when its stop tokens are not configured; everything from one on is noise. */
const LEAKED_TOKEN = /<\|(?:endoftext|end_of_text|eot_id|im_end|im_start|fim_[a-z]+|file_sep|repo_name)\|>|<EOT>/;

/** Normalises line ends to `\n` and cuts at a leaked special token. */
export const normaliseText: PostprocessStep = (text) => {
  const normal = text.replace(/\r\n?/g, '\n');
  const leak = LEAKED_TOKEN.exec(normal);
  return leak ? normal.slice(0, leak.index) : normal;
};

export const limitLines: PostprocessStep = (text, ctx) => splitLines(text).slice(0, ctx.maxLines).join('\n');

/**
 * Drops trailing whitespace on every line and trailing blank lines. When code follows the cursor the last line is
 * left alone: in `a +| b` the space of ` + ` matters, and a final line break (`foo(\n  a,\n|)`) puts that code on
 * its own line.
 */
export const trimTrailingWhitespace: PostprocessStep = (text, ctx) => {
  const lines = splitLines(text).map((l) => l.trimEnd());
  const raw = splitLines(text);
  const keepLast = ctx.lineSuffix.trim() !== '';
  while (lines.length > 1 && lines[lines.length - 1] === '' && (!keepLast || lines[lines.length - 2] === '')) {
    lines.pop();
    raw.pop();
  }
  if (keepLast) lines[lines.length - 1] = raw[raw.length - 1]!;
  return lines.join('\n');
};

export const rejectEmpty: PostprocessStep = (text) => (isBlank(text) ? null : text);

/**
 * The default order matters: indentation is repaired before the block rules measure it; the block is cut before
 * repetition is looked for (a cut often removes it already); trailing whitespace goes before the suffix overlap is
 * matched, so `a) ` still overlaps `)`.
 */
export const DEFAULT_STEPS: readonly PostprocessStep[] = [
  normaliseText,
  rejectEmpty,
  firstLineOnlyMidLine,
  normaliseIndentStyle,
  rebaseRelativeIndent,
  cutAtBlockEnd,
  dropRepeatedFollowingLines,
  limitLines,
  trimTrailingWhitespace,
  removeSuffixOverlap,
  rejectEmpty,
];

export interface PostprocessInput extends CompletionContext {
  /** The model's raw fill-in-the-middle output. */
  readonly completion: string;
}

/** The cleaned suggestion to show at the cursor, or null when nothing worth showing is left. */
export function postprocess(input: PostprocessInput, steps: readonly PostprocessStep[] = DEFAULT_STEPS): string | null {
  const ctx = resolveContext(input);
  let text: string | null = input.completion;
  for (const step of steps) {
    text = step(text, ctx);
    if (text === null) return null;
  }
  return text;
}

export {
  cutAtBlockEnd,
  dropRepeatedFollowingLines,
  firstLineOnlyMidLine,
  normaliseIndentStyle,
  rebaseRelativeIndent,
  removeSuffixOverlap,
};
