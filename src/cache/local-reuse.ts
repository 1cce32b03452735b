/**
 * Reuse of the local context's prefill across keystrokes. Between two completions a few characters apart, the
 * fill-in-the-middle prompt changes only near the cursor: the file header and most of the prefix are the same
 * tokens. Their keys and values are the same too, as long as they attended to the same repository block at the
 * same positions, so the next request keeps the previous one's cache up to the first differing token and
 * prefills only the rest (with coder-15m the local prefill was about two thirds of a completion's time).
 */
import type { DeviceKv } from '../engine/device-kv';
import type { PlainKvCache } from '../engine/kv-cache';

/** A request's keys and values: on the host, or on the device for a device-state session (kept there). */
export type KvState = PlainKvCache | DeviceKv;

function release(state: KvState): void {
  if ('dispose' in state) state.dispose();
}

interface Saved {
  contextKey: string;
  promptIds: number[];
  /** The sink's rows, then the prompt's (possibly fewer if the request was aborted), then generated tokens. */
  cache: KvState;
  sinkLength: number;
}

export interface Resume {
  /** Holds the sink and the first `reused` prompt tokens. */
  cache: KvState;
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
    if (!saved) return null;
    if (saved.contextKey !== contextKey || saved.sinkLength !== sinkLength) return (release(saved.cache), null);
    // At least one prompt token is prefilled again: its logits give the first generated token.
    const reused = Math.min(
      commonPrefix(saved.promptIds, promptIds),
      promptIds.length - 1,
      saved.cache.length - sinkLength,
    );
    if (reused <= 0) return (release(saved.cache), null);
    saved.cache.truncate(sinkLength + reused);
    return { cache: saved.cache, reused };
  }

  /** Keeps a finished request's cache for the next one. */
  keep(contextKey: string, promptIds: number[], cache: KvState, sinkLength: number): void {
    if (this.saved && this.saved.cache !== cache) release(this.saved.cache);
    this.saved = { contextKey, promptIds, cache, sinkLength };
  }

  clear(): void {
    if (this.saved) release(this.saved.cache);
    this.saved = null;
  }
}
