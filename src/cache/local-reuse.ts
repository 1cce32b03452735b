/**
 * Reuse of the local context's prefill across keystrokes. Between two completions a few characters apart, the
 * fill-in-the-middle prompt changes only near the cursor: the file header and most of the prefix are the same
 * tokens. Their keys and values are the same too, as long as they attended to the same repository block at the
 * same positions, so the next request keeps the previous one's cache up to the first differing token and
 * prefills only the rest (with coder-15m the local prefill was about two thirds of a completion's time).
 */
import type { PlainKvCache } from '../engine/kv-cache';

interface Saved {
  contextKey: string;
  promptIds: number[];
  /** The sink's rows, then the prompt's (possibly fewer if the request was aborted), then generated tokens. */
  cache: PlainKvCache;
  sinkLength: number;
}

export interface Resume {
  /** Holds the sink and the first `reused` prompt tokens. */
  cache: PlainKvCache;
  reused: number;
}

function commonPrefix(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export class LocalPrefillReuse {
  private saved: Saved | null = null;

  /**
   * The previous request's cache cut to what this one can reuse, or null when nothing can be (another repository
   * block, another position, no common tokens). The saved state is handed over, never shared: two requests in
   * flight at once cannot write into the same cache.
   */
  take(contextKey: string, promptIds: number[], sinkLength: number): Resume | null {
    const saved = this.saved;
    this.saved = null;
    if (!saved || saved.contextKey !== contextKey || saved.sinkLength !== sinkLength) return null;
    // At least one prompt token is prefilled again: its logits give the first generated token.
    const reused = Math.min(
      commonPrefix(saved.promptIds, promptIds),
      promptIds.length - 1,
      saved.cache.length - sinkLength,
    );
    if (reused <= 0) return null;
    saved.cache.truncate(sinkLength + reused);
    return { cache: saved.cache, reused };
  }

  /** Keeps a finished request's cache for the next one. */
  keep(contextKey: string, promptIds: number[], cache: PlainKvCache, sinkLength: number): void {
    this.saved = { contextKey, promptIds, cache, sinkLength };
  }

  clear(): void {
    this.saved = null;
  }
}
