/**
 * The local part of a query, as token ids: the current file around the cursor in the model family's
 * fill-in-the-middle layout, or a rendered chat. Long prefixes and suffixes are cut to token budgets, keeping the
 * text nearest the cursor, and cut at line starts so the model never sees half a line at the edge.
 */
import type { Engine } from '../engine/engine';
import { formatFileHeader, formatFimFile } from '../engine/fim';
import type { ChatMessage } from '../engine/tokenizer';

export interface LocalBudget {
  prefixTokens: number;
  suffixTokens: number;
}

/**
 * 768 tokens before the cursor: with coder-15m, 768 instead of 384 lowered the NLL of the repository tasks' lines by
 * 0.078 nats [0.012, 0.149] (50 development tasks, BENCHMARKS.md) for 1.13× the time per decode step; across
 * keystrokes only the changed tail of it is prefilled again (local-reuse.ts).
 */
export const DEFAULT_LOCAL_BUDGET: LocalBudget = { prefixTokens: 768, suffixTokens: 128 };

/** Where a completion's prefix window may start (tailByTokens): at most ~64 tokens of context traded for reuse. */
export const PREFIX_GRID_CHARS = 256;

/**
 * Keeps the last ~`tokens` tokens of `text`, starting at a line start when possible. With `grid`, the start is
 * first moved forward to a multiple of `grid` characters, so it stays in place while text is typed at the end
 * (until the end has moved `grid` characters): the next completion can then reuse this one's prefill
 * (local-reuse.ts). The window is at most `grid` characters shorter for it.
 */
export function tailByTokens(engine: Engine, text: string, tokens: number, grid = 0): string {
  let chars = tokens * 4;
  while (chars < text.length) {
    const from = text.length - chars;
    let cut = text.slice(grid > 0 ? Math.ceil(from / grid) * grid : from);
    const nl = cut.indexOf('\n');
    if (nl >= 0 && nl < cut.length - 1) cut = cut.slice(nl + 1);
    if (engine.encode(cut).length <= tokens) return cut;
    chars = Math.floor(chars * 0.8);
  }
  return text.length <= tokens * 4 && engine.encode(text).length <= tokens ? text : text.slice(-tokens);
}

/** Keeps the first ~`tokens` tokens of `text`, ending at a line end when possible. */
export function headByTokens(engine: Engine, text: string, tokens: number): string {
  let chars = tokens * 4;
  while (chars < text.length) {
    let cut = text.slice(0, chars);
    const nl = cut.lastIndexOf('\n');
    if (nl > 0) cut = cut.slice(0, nl + 1);
    if (engine.encode(cut).length <= tokens) return cut;
    chars = Math.floor(chars * 0.8);
  }
  return text;
}

/** Character offset of a zero-based (line, character) position. */
export function offsetOf(text: string, line: number, character: number): number {
  let offset = 0;
  for (let l = 0; l < line; l++) {
    const nl = text.indexOf('\n', offset);
    if (nl < 0) throw new RangeError(`line ${line} is past the end of the file (${l + 1} lines)`);
    offset = nl + 1;
  }
  const lineEnd = text.indexOf('\n', offset);
  const length = (lineEnd < 0 ? text.length : lineEnd) - offset;
  if (character > length) throw new RangeError(`character ${character} is past the end of line ${line} (${length})`);
  return offset + character;
}

/**
 * The infill prompt around a hole between `before` and `after` (the cursor's text, or with an indented cursor the
 * text up to its line start: see `indentedCursor`).
 */
export function fimPrompt(
  engine: Engine,
  path: string,
  before: string,
  after: string,
  budget: LocalBudget = DEFAULT_LOCAL_BUDGET,
): string {
  const prefix = tailByTokens(engine, before, budget.prefixTokens, PREFIX_GRID_CHARS);
  const suffix = headByTokens(engine, after, budget.suffixTokens);
  if (!engine.fim) return prefix; // a model without FIM tokens completes left to right
  return formatFimFile(engine.fim, path, { prefix, suffix });
}

/**
 * A left-to-right prompt at the cursor: the file's header line and the text before the cursor, no suffix (at the end
 * of an unfinished line coder-15m continues the line this way, where an infill prompt makes it end the line).
 */
export function leftToRightPrompt(
  engine: Engine,
  path: string,
  before: string,
  budget: LocalBudget = DEFAULT_LOCAL_BUDGET,
): string {
  const prefix = tailByTokens(engine, before, budget.prefixTokens, PREFIX_GRID_CHARS);
  return engine.fim ? `${formatFileHeader(engine.fim, path)}${prefix}` : prefix;
}

export function chatPrompt(
  engine: Engine,
  messages: ChatMessage[],
  attachments: { path: string; text: string }[] = [],
): string {
  const withContext = [...messages];
  if (attachments.length && withContext.length) {
    const last = withContext[withContext.length - 1]!;
    const blocks = attachments
      .map((a) => `${a.path}:\n\`\`\`\n${tailByTokens(engine, a.text, 512)}\n\`\`\``)
      .join('\n\n');
    withContext[withContext.length - 1] = { ...last, content: `${blocks}\n\n${last.content}` };
  }
  return engine.tokenizer.applyChatTemplate(withContext, { addGenerationPrompt: true });
}
