import { scanBrackets, type BracketEvent } from './brackets';
import type { StepContext } from './context';
import { nextNonBlank } from './structure';
import { isBlank, splitLines } from './text';

/**
 * Removes the end of the suggestion that repeats the text already after the cursor (the model writes `a)` when
 * `foo(|)` already has its `)`). The longest overlap wins, but a closing bracket may only be dropped when the
 * suggestion itself never opened it: in `foo(|)` the suggestion `bar()` ends with its own `)` and stays whole.
 */
export function removeSuffixOverlap(text: string, ctx: StepContext): string {
  const suffix = ctx.lineSuffix.trimEnd();
  if (suffix.trim() === '') return text;
  const events = scanBrackets(text, ctx.lang);
  const unmatched = unmatchedClosers(events);
  for (let k = Math.min(suffix.length, text.length); k > 0; k--) {
    const overlap = suffix.slice(0, k);
    if (overlap.trim() === '' || !text.endsWith(overlap)) continue;
    const from = text.length - k;
    const closersOwned = events.some((e) => !e.open && e.offset >= from && !unmatched.has(e.offset));
    if (!closersOwned) return text.slice(0, from);
  }
  return text;
}

/** Offsets of the closers that close nothing opened earlier in the same text. */
function unmatchedClosers(events: readonly BracketEvent[]): Set<number> {
  const open: number[] = [];
  const unmatched = new Set<number>();
  for (const e of events) {
    if (e.open) open.push(e.offset);
    else if (open.length > 0) open.pop();
    else unmatched.add(e.offset);
  }
  return unmatched;
}

/**
 * Cuts the suggestion where it starts replaying the document below the cursor, a common failure of
 * fill-in-the-middle decoding that misses its end token. A line repeats when it equals the next document line
 * (indentation included: a nested `  }` is not the outer `}`). The cut happens at the first line from which either
 * every remaining line replays the document, or at least two lines with real content do.
 * On a blank cursor line the first line counts too, and a suggestion that only repeats is dropped.
 */
export function dropRepeatedFollowingLines(text: string, ctx: StepContext): string | null {
  const lines = splitLines(text);
  const following = ctx.followingLines.filter((l) => !isBlank(l)).map((l) => l.trimEnd());
  if (following.length === 0) return text;
  const startAt = isBlank(ctx.linePrefix) ? 0 : 1;
  for (let j = startAt; j < lines.length; j++) {
    if (isBlank(lines[j]!)) continue;
    const candidate = lines.slice(j).map((l, i) => (i === 0 && j === 0 ? ctx.linePrefix + l : l));
    const replayed = countReplayed(candidate, following);
    const rest = candidate.filter((l) => !isBlank(l)).length;
    if (replayed.lines === rest || (replayed.lines >= 2 && replayed.substantial)) {
      return j === 0 ? null : lines.slice(0, j).join('\n');
    }
  }
  return text;
}

function countReplayed(
  candidate: readonly string[],
  following: readonly string[],
): { lines: number; substantial: boolean } {
  let matched = 0;
  let substantial = false;
  let c = nextNonBlank(candidate, 0);
  while (c >= 0 && matched < following.length && candidate[c]!.trimEnd() === following[matched]) {
    substantial ||= /\w{3}/.test(candidate[c]!);
    matched++;
    c = nextNonBlank(candidate, c + 1);
  }
  return { lines: matched, substantial };
}
