/**
 * Constraints on what a generation may produce next, applied to the logits before a token is chosen: the
 * indented cursor forces the typed indentation (indented-cursor.ts), an unfinished line end forbids ending the
 * line at once (line-end-cursor.ts). Both decide per token text, so the decoded text of every id is kept here once.
 */
import type { TextTokenizer } from './tokenizer';

/** Masks next-token logits while a generation must still produce (or avoid) some text. */
export interface LogitConstraint {
  /** Sets the logits of disallowed tokens to -Infinity (in place). */
  mask(logits: Float32Array): void;
  /** Records the token chosen after `mask`. */
  accept(id: number): void;
}

const tokenTextCache = new WeakMap<TextTokenizer, readonly string[]>();

/** The decoded text of every vocabulary id (once per tokenizer; a few tens of ms for a 150k vocabulary). */
export function tokenTexts(tokenizer: TextTokenizer): readonly string[] {
  let texts = tokenTextCache.get(tokenizer);
  if (!texts) {
    texts = Array.from({ length: tokenizer.vocabSize }, (_, id) => tokenizer.decode([id]));
    tokenTextCache.set(tokenizer, texts);
  }
  return texts;
}

/**
 * Sets every id that `allowed` rejects to -Infinity, unless it rejects them all: then the logits are left as they
 * are and false is returned, so that a constraint no token can satisfy lets go rather than blocks the generation.
 */
export function maskDisallowed(logits: Float32Array, allowed: (id: number) => boolean): boolean {
  let any = false;
  for (let id = 0; id < logits.length && !any; id++) any = allowed(id);
  if (!any) return false;
  for (let id = 0; id < logits.length; id++) if (!allowed(id)) logits[id] = Number.NEGATIVE_INFINITY;
  return true;
}
