/**
 * Fill-in-the-middle at the end of an unfinished line. With the cursor after code and nothing but whitespace after
 * it on its line (`console.log('fence', fence(|`), the infill prompt's suffix starts with a line break, and a small
 * FIM model (coder-15m) fills the middle as if the cursor's line were done: on 60 development cursors cut after the
 * line's first token, every answer started with a line break (a third) or with a new line's indentation (two
 * thirds). The editor then has nothing, or nonsense, on the cursor's line, while left to right the model continues
 * the line.
 *
 * Two remedies, measured (BENCHMARKS.md, "Fill-in-the-middle at the end of a line"):
 * - `left-to-right` (the default): at an unfinished line end the prompt is the file header and the text before the
 *   cursor, no suffix; the model continues the line as in its left-to-right training (edit similarity of the first
 *   line +0.17 over the infill prompt). What follows the line is not seen, which costs little there: the suffix of
 *   an unfinished line is the rest of the file, not the text the suggestion must join.
 * - `continue`: the infill prompt with a first-token constraint: no line break (alone or after blanks), no
 *   blank-only token, no special token. It removes the empty answers but the model, held off the line break it
 *   wanted, writes the next line's code onto this one (edit similarity −0.03 to −0.04): kept to measure against.
 *
 * Only a line that looks unfinished is touched: after `;`, `{`, `}`, `:` or `,` a statement, block header or list
 * item ends there, and after a closing `)` or `]` the line may be complete too (a call statement in Python, `if (x)`
 * before a line-broken brace); there the suggestion is the next line, which the infill prompt gives (the
 * `-always` variants apply their remedy there too, to measure it).
 */
import { type LogitConstraint, maskDisallowed, tokenTexts } from './logit-constraint';
import type { TextTokenizer } from './tokenizer';

/** See above; `-always` variants ignore the last-character exception; `off` is the old behaviour (infill everywhere). */
export const LINE_END_HANDLINGS = [
  'off',
  'continue',
  'continue-always',
  'left-to-right',
  'left-to-right-always',
] as const;
export type LineEndHandling = (typeof LINE_END_HANDLINGS)[number];
export const DEFAULT_LINE_END_HANDLING: LineEndHandling = 'left-to-right';

export function parseLineEndHandling(value: string): LineEndHandling {
  if ((LINE_END_HANDLINGS as readonly string[]).includes(value)) return value as LineEndHandling;
  throw new RangeError(`line-end handling must be one of ${LINE_END_HANDLINGS.join(', ')} (got "${value}")`);
}

/** Last characters after which the line may well be complete, so the answer may start on the next line. */
const MAY_END_LINE = new Set([';', '{', '}', ':', ',', ')', ']']);

/**
 * Whether the cursor ends an unfinished line: non-blank text before it on its line, only spaces and tabs (or
 * nothing) after it up to the line end, and the last non-blank character before it not one that may end a line.
 */
export function isUnfinishedLineEnd(before: string, after: string): boolean {
  if (!isLineEnd(before, after)) return false;
  const lineBefore = before.slice(before.lastIndexOf('\n') + 1).trimEnd();
  return !MAY_END_LINE.has(lineBefore[lineBefore.length - 1]!);
}

/** Non-blank text before the cursor on its line and only spaces and tabs (or nothing) after it up to the line end. */
export function isLineEnd(before: string, after: string): boolean {
  if (before.slice(before.lastIndexOf('\n') + 1).trim() === '') return false;
  const eol = after.search(/\r?\n/);
  return (eol < 0 ? after : after.slice(0, eol)).trim() === '';
}

/**
 * A token text that ends the cursor's line at once (a line break, possibly after spaces or tabs) or holds only
 * blanks: byte-level BPE attaches a single space to the word after it, so a blank-only token is the start of an
 * indentation (coder-15m, held off the line break, writes `  if (...) {` after `fence(`: the next line's code).
 */
const ENDS_LINE = /^[ \t]*(?:[\r\n]|$)/;

/**
 * Forbids, for the first generated token only, tokens that end the line at once and special tokens. Ids without a
 * table entry (a padded vocabulary) are forbidden too. Should nothing be left, it lets go rather than block.
 */
export class ContinueLineConstraint implements LogitConstraint {
  private first = true;

  constructor(
    private readonly texts: readonly string[],
    private readonly special: ReadonlySet<number>,
  ) {}

  allowed(id: number): boolean {
    const t = this.texts[id];
    return t !== undefined && t !== '' && !this.special.has(id) && !ENDS_LINE.test(t);
  }

  mask(logits: Float32Array): void {
    if (this.first) maskDisallowed(logits, (id) => this.allowed(id));
  }

  accept(): void {
    this.first = false;
  }
}

function applies(before: string, after: string, handling: LineEndHandling): boolean {
  return handling.endsWith('-always') ? isLineEnd(before, after) : isUnfinishedLineEnd(before, after);
}

/** Whether the completion at this cursor is prompted left to right (no suffix) rather than as an infill. */
export function promptsLeftToRight(before: string, after: string, handling: LineEndHandling): boolean {
  return handling.startsWith('left-to-right') && applies(before, after, handling);
}

const specialCache = new WeakMap<TextTokenizer, ReadonlySet<number>>();

/** The constraint for a cursor with `before` / `after` around it, or undefined where the line is left alone. */
export function lineEndConstraint(
  tokenizer: TextTokenizer,
  before: string,
  after: string,
  handling: LineEndHandling,
): LogitConstraint | undefined {
  if (!handling.startsWith('continue') || !applies(before, after, handling)) return undefined;
  let special = specialCache.get(tokenizer);
  if (!special) {
    special = tokenizer.specialTokenIds();
    specialCache.set(tokenizer, special);
  }
  return new ContinueLineConstraint(tokenTexts(tokenizer), special);
}
