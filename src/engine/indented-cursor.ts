/**
 * Completions at an indented cursor. After Enter the editor indents and the cursor stands after that indentation,
 * so a prompt cut at the cursor ends in a run of spaces or tabs. Byte-level BPE never splits a line's indentation
 * that way in training: `\n` + 12 spaces + `return` is `\n`, 11 spaces, ` return`, while a prompt ending at the
 * cursor ends in one 12-space token that the model has only seen before more whitespace, so it answers with more
 * indentation (coder-15m: 8 more spaces, then the statement).
 *
 * Both remedies back the prompt up to the start of the cursor's line, where the tokenization is the training one,
 * and take the indentation already typed off the model's answer:
 * - `backup`: the model writes the line freely from column 0; the typed indentation is removed from its answer.
 * - `heal` (token healing): the first generated tokens are constrained to reproduce the typed indentation (a token
 *   is allowed while its text and the rest of the indentation agree), so the model chooses how the indentation
 *   splits into tokens, as in training, but not a different depth.
 * `off` leaves the prompt ending at the cursor (the old behaviour; kept to measure against).
 *
 * Only a cursor whose line holds nothing but spaces and tabs before it is touched: after code on the line the
 * prompt is left alone.
 */
import { type LogitConstraint, maskDisallowed, tokenTexts } from './logit-constraint';
import type { TextTokenizer } from './tokenizer';

export const INDENT_HANDLINGS = ['off', 'backup', 'heal'] as const;
export type IndentHandling = (typeof INDENT_HANDLINGS)[number];
/** Measured on the development tasks at indented cursors (BENCHMARKS.md, "Completions at an indented cursor"). */
export const DEFAULT_INDENT_HANDLING: IndentHandling = 'heal';

export function parseIndentHandling(value: string): IndentHandling {
  if ((INDENT_HANDLINGS as readonly string[]).includes(value)) return value as IndentHandling;
  throw new RangeError(`indent handling must be one of ${INDENT_HANDLINGS.join(', ')} (got "${value}")`);
}

export interface IndentedCursor {
  /** The text before the cursor the prompt is built from: up to the line start when indentation was backed up. */
  readonly prefix: string;
  /** The indentation typed before the cursor that the prompt leaves out ('' when nothing was backed up). */
  readonly typed: string;
  /** Tokens the model spends on rewriting `typed` (add them to the token budget). */
  readonly typedTokens: number;
  /** A fresh constraint for one generation (`heal` with something backed up), else undefined. */
  constraint(): LogitConstraint | undefined;
  /** The model's answer as text to insert at the cursor. */
  answer(generated: string): string;
}

/** Splits the text before the cursor when the cursor's line holds only indentation before it. */
export function splitTypedIndent(before: string): { prefix: string; typed: string } {
  const lineStart = before.lastIndexOf('\n') + 1;
  const typed = before.slice(lineStart);
  // At the very start of the text, backing up would leave an empty prompt for a model without FIM tokens.
  if (lineStart === 0 || !/^[ \t]+$/.test(typed)) return { prefix: before, typed: '' };
  return { prefix: before.slice(0, lineStart), typed };
}

/**
 * What the model wrote from the line start, as the text that goes after the typed indentation: its first line from
 * its first non-blank character. The model normally repeats the indentation (the constraint makes it, under `heal`);
 * where it indents deeper, shallower or with other characters, the editor's indentation stands: right after Enter
 * the editor's language rules know the depth better than a small model does, and a suggestion that starts with
 * whitespace shows as a gap the user has to delete. An answer whose first line is blank (the model ends the line)
 * keeps its line end.
 */
export function answerAfterIndent(generated: string, typed: string): string {
  if (typed === '') return generated;
  return generated.slice(/^[ \t]*/.exec(generated)![0].length);
}

/**
 * Token healing's constraint: until `text` is produced, a token is allowed when its text is a shorter prefix of what
 * remains (11 of 12 spaces) or starts with all of it and goes on (` return` after 11 spaces, or a deeper run). A
 * token ending exactly where the typed whitespace ends is not allowed: the pre-tokenizer never ends a whitespace
 * token right before code (`\s+(?!\S)` leaves the last space to the word), so choosing one would rebuild the very
 * prompt ending this module avoids (coder-15m then indents further). Ids without a table entry (the model's padded
 * vocabulary) are never allowed. Should no token fit, the constraint lets go rather than block.
 */
export class ForcedTextConstraint implements LogitConstraint {
  private remaining: string;

  // The table is shared by every constraint of a tokenizer; `text` is what must come first.
  constructor(
    private readonly texts: readonly string[],
    text: string,
  ) {
    this.remaining = text;
  }

  get done(): boolean {
    return this.remaining === '';
  }

  mask(logits: Float32Array): void {
    if (this.done) return;
    const allowed = (id: number): boolean => {
      const t = this.texts[id];
      if (t === undefined || t === '' || t.length === this.remaining.length) return false;
      return t.length < this.remaining.length ? this.remaining.startsWith(t) : t.startsWith(this.remaining);
    };
    if (!maskDisallowed(logits, allowed)) this.remaining = '';
  }

  accept(id: number): void {
    const t = this.texts[id] ?? '';
    this.remaining = t !== '' && this.remaining.startsWith(t) ? this.remaining.slice(t.length) : '';
  }
}

/** The prompt prefix, constraint and answer rule for a completion whose text before the cursor is `before`. */
export function indentedCursor(tokenizer: TextTokenizer, before: string, handling: IndentHandling): IndentedCursor {
  const split = handling === 'off' ? { prefix: before, typed: '' } : splitTypedIndent(before);
  const { prefix, typed } = split;
  return {
    prefix,
    typed,
    typedTokens: typed === '' ? 0 : tokenizer.encode(typed).length,
    constraint: () =>
      handling === 'heal' && typed !== '' ? new ForcedTextConstraint(tokenTexts(tokenizer), typed) : undefined,
    answer: (generated) => answerAfterIndent(generated, typed),
  };
}
