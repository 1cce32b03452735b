/**
 * How one completion request becomes a prompt: the cursor's place in its line decides it. A cursor after a line's
 * indentation is backed up to the line start with its first tokens healed (`indented-cursor`); a cursor that ends an
 * unfinished line is prompted left to right, because the model answers infill there with a line break
 * (`line-end-cursor`); everything else is fill-in-the-middle. One place, so the CLI, the sidecar and the benches
 * that go through `RepositoryCache.complete` prompt alike.
 */
import type { Engine } from '../engine/engine';
import { DEFAULT_INDENT_HANDLING, type IndentHandling, indentedCursor } from '../engine/indented-cursor';
import {
  DEFAULT_LINE_END_HANDLING,
  type LineEndHandling,
  lineEndConstraint,
  promptsLeftToRight,
} from '../engine/line-end-cursor';
import type { LogitConstraint } from '../engine/logit-constraint';
import { fimPrompt, leftToRightPrompt, offsetOf } from './prompts';

export interface CompletionRequest {
  path: string;
  text: string;
  line: number;
  character: number;
  maxTokens: number;
  useRepository?: boolean;
  /** How a cursor after a line's indentation is prompted (an internal switch, to measure the choices). */
  indent?: IndentHandling;
  /** Whether the first token may end an unfinished cursor line (internal switch, to measure the choices). */
  lineEnd?: LineEndHandling;
}

export interface CompletionPrompt {
  prompt: string;
  /** The document before the cursor: what selects the repository segments. */
  before: string;
  /** Tokens to generate: the request's, plus the indentation the healed prompt makes the model write again. */
  maxTokens: number;
  constraint: LogitConstraint | undefined;
  /** The model's text as the editor inserts it at the cursor. */
  answer(text: string): string;
}

export function completionPrompt(engine: Engine, request: CompletionRequest): CompletionPrompt {
  const offset = offsetOf(request.text, request.line, request.character);
  const before = request.text.slice(0, offset);
  const after = request.text.slice(offset);
  const cursor = indentedCursor(engine.tokenizer, before, request.indent ?? DEFAULT_INDENT_HANDLING);
  const lineEnd = request.lineEnd ?? DEFAULT_LINE_END_HANDLING;
  const prompt = promptsLeftToRight(before, after, lineEnd)
    ? leftToRightPrompt(engine, request.path, before)
    : fimPrompt(engine, request.path, cursor.prefix, after);
  return {
    prompt,
    before,
    maxTokens: request.maxTokens + cursor.typedTokens,
    // An indented cursor has nothing but blanks before it on its line, an unfinished line end has code: one applies.
    constraint: cursor.constraint() ?? lineEndConstraint(engine.tokenizer, before, after, lineEnd),
    answer: (text) => cursor.answer(text),
  };
}
