/**
 * Adaptive debounce for inline completions. A request sent in the middle of a burst of typing is wasted (the next
 * keystroke cancels it and it stole the engine from the one that matters), while a user who has paused wants the
 * suggestion now. So the wait follows the recent rhythm of keystrokes: the typical gap of the current burst
 * (median of the last few, robust to one hesitation) maps linearly from `fastGapMs` → `maxMs` (fast typing, wait
 * for the burst to end) to `slowGapMs` → `minMs` (slow typing or a fresh start after a pause, answer quickly).
 * A gap longer than `pauseMs` ends a burst and is forgotten, so the first keystroke after a pause waits `minMs`.
 */

/** Time source and timers, injectable so that tests can drive time by hand. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

export interface AdaptiveDebounceOptions {
  /** Shortest wait, after a pause or while typing slowly. Default 100. */
  readonly minMs?: number;
  /** Longest wait, while typing fast. Default 500. */
  readonly maxMs?: number;
  /** A keystroke gap at or below this is fast typing. Default 60 (about 200 words a minute of code). */
  readonly fastGapMs?: number;
  /** A keystroke gap at or above this is slow typing. Default 400. */
  readonly slowGapMs?: number;
  /** A gap above this ends the burst. Default 1000. */
  readonly pauseMs?: number;
  /** How many recent gaps to remember. Default 8. */
  readonly window?: number;
  readonly clock?: Clock;
}

/**
 * Options from the `repokv.completion.debounceMs` setting: it is the floor (the wait after a pause), and the
 * ceiling scales with it up to one second, so `0` disables debouncing altogether.
 */
export function debounceOptionsFromSetting(debounceMs: number, clock?: Clock): AdaptiveDebounceOptions {
  const minMs = Math.max(0, debounceMs);
  return { minMs, maxMs: Math.max(minMs, Math.min(5 * minMs, 1000)), clock };
}

export class AdaptiveDebouncer {
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly fastGapMs: number;
  private readonly slowGapMs: number;
  private readonly pauseMs: number;
  private readonly window: number;
  private readonly clock: Clock;
  private readonly gaps: number[] = [];
  private lastKeystroke: number | undefined;
  private pending: { handle: unknown; finish: (fired: boolean) => void } | undefined;

  constructor(options: AdaptiveDebounceOptions = {}) {
    this.minMs = Math.max(0, options.minMs ?? 100);
    this.maxMs = Math.max(this.minMs, options.maxMs ?? 500);
    this.fastGapMs = options.fastGapMs ?? 60;
    this.slowGapMs = Math.max(this.fastGapMs + 1, options.slowGapMs ?? 400);
    this.pauseMs = options.pauseMs ?? 1000;
    this.window = Math.max(1, options.window ?? 8);
    this.clock = options.clock ?? systemClock;
  }

  /** Notes a keystroke (a document change at the cursor); `at` defaults to the clock's now. */
  recordKeystroke(at: number = this.clock.now()): void {
    if (this.lastKeystroke !== undefined) {
      const gap = at - this.lastKeystroke;
      if (gap > this.pauseMs) this.gaps.length = 0;
      else if (gap >= 0) {
        this.gaps.push(gap);
        if (this.gaps.length > this.window) this.gaps.shift();
      }
    }
    this.lastKeystroke = at;
  }

  /** The wait the next `wait()` will use, in milliseconds. */
  currentDelay(): number {
    // The burst is over if the user has been idle for a pause already: answer as fast as allowed.
    if (this.gaps.length === 0 || this.idleFor() > this.pauseMs) return this.minMs;
    const gap = median(this.gaps);
    const slowness = clamp((gap - this.fastGapMs) / (this.slowGapMs - this.fastGapMs), 0, 1);
    return Math.round(this.maxMs - slowness * (this.maxMs - this.minMs));
  }

  /**
   * Resolves `true` after the current delay, or `false` as soon as the wait is superseded by another `wait()`,
   * cancelled with `cancel()`, or `signal` aborts. Never rejects, so callers just return on `false`.
   */
  wait(signal?: AbortSignal): Promise<boolean> {
    this.cancel();
    if (signal?.aborted) return Promise.resolve(false);
    const delay = this.currentDelay();
    return new Promise<boolean>((resolve) => {
      const onAbort = (): void => finish(false);
      const finish = (fired: boolean): void => {
        if (this.pending?.finish === finish) {
          if (!fired) this.clock.clearTimeout(this.pending.handle);
          this.pending = undefined;
        }
        signal?.removeEventListener('abort', onAbort);
        resolve(fired);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending = { handle: this.clock.setTimeout(() => finish(true), delay), finish };
    });
  }

  /** Ends the pending wait, if any, with `false`. */
  cancel(): void {
    this.pending?.finish(false);
  }

  /** Forgets the typing rhythm (e.g. when the active editor changes). */
  reset(): void {
    this.cancel();
    this.gaps.length = 0;
    this.lastKeystroke = undefined;
  }

  private idleFor(): number {
    return this.lastKeystroke === undefined ? Number.POSITIVE_INFINITY : this.clock.now() - this.lastKeystroke;
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}
