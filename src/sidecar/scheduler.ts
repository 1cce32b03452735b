/**
 * Background prefill of the repository cache, by priority: segments of the active file first, then of open
 * documents, then of files the active file imports, then the rest, most recently changed first. A completion
 * or chat request runs in the foreground: the background loop finishes the segment in flight (one prefill
 * chunk: segments are at most maxSegmentTokens) and waits until no foreground work is left.
 *
 * A file being typed in waits for a pause (`quietMs` after its last edit) before its changed segments are
 * prefilled: its own completions never attend to its segments (the local context holds the file), and prefilling
 * it after every keystroke made each completion wait for a segment in flight (with coder-15m, a 512-token segment
 * costs about as much as the completion itself).
 */
import type { CacheEntry, RepositoryCache } from '../cache/repository-cache';
import { importedPaths } from '../cache/selection';
import type { IndexProgress } from './service';

export class PrefillScheduler {
  private running: Promise<void> | null = null;
  private foregroundCount = 0;
  private foregroundDone: (() => void)[] = [];
  private activePath: string | null = null;
  private readonly openPaths = new Set<string>();
  private done = { tokens: 0, segments: 0 };
  private startedAt = 0;
  private stopped = false;
  private readonly editedAt = new Map<string, number>();
  private wake: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly caches: () => RepositoryCache[],
    private readonly report: (p: IndexProgress) => void,
    private readonly onFilled: () => void = () => {},
    private readonly quietMs = 750,
  ) {}

  /** The user edited `path`: its segments wait until `quietMs` have passed without another edit. */
  noteEdit(path: string): void {
    this.editedAt.set(path, performance.now());
  }

  /** Milliseconds `path` must still wait (0 = may be prefilled now). */
  private waitFor(path: string, now: number): number {
    const at = this.editedAt.get(path);
    if (at === undefined) return 0;
    const left = at + this.quietMs - now;
    if (left <= 0) this.editedAt.delete(path);
    return Math.max(0, left);
  }

  setActive(path: string): void {
    this.activePath = path;
  }

  setOpen(path: string, open: boolean): void {
    if (open) this.openPaths.add(path);
    else this.openPaths.delete(path);
  }

  /** Runs `work` with background prefill paused after its current segment. */
  async foreground<T>(work: () => Promise<T>): Promise<T> {
    this.foregroundCount++;
    try {
      return await work();
    } finally {
      if (--this.foregroundCount === 0) for (const resume of this.foregroundDone.splice(0)) resume();
    }
  }

  /** Starts the background loop if it is idle; resolves when everything pending is filled (or stopped). */
  kick(signal?: AbortSignal): Promise<void> {
    if (!this.running) {
      this.startedAt = performance.now();
      this.done = { tokens: 0, segments: 0 };
      this.running = this.loop(signal).finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  stop(): void {
    this.stopped = true;
    if (this.wake) clearTimeout(this.wake);
  }

  private priority(entry: CacheEntry, imported: Set<string>): number {
    if (entry.path === this.activePath) return 3;
    if (this.openPaths.has(entry.path)) return 2;
    if (imported.has(entry.path)) return 1;
    return 0;
  }

  private async loop(signal?: AbortSignal): Promise<void> {
    for (;;) {
      if (this.stopped || signal?.aborted) return;
      if (this.foregroundCount > 0) await new Promise<void>((resolve) => this.foregroundDone.push(resolve));
      const next = this.pick();
      if (!next) {
        this.emit('idle', 0, 0);
        this.wakeForDeferred();
        return;
      }
      await next.cache.fill(next.entry);
      this.done.tokens += next.entry.tokens;
      this.done.segments++;
      this.onFilled();
      const left = this.caches().flatMap((c) => c.pending());
      this.emit(
        'prefilling',
        left.reduce((n, e) => n + e.tokens, 0),
        left.length,
      );
    }
  }

  /** Kicks the loop again when the first deferred file's quiet time is over. */
  private wakeForDeferred(): void {
    if (this.stopped || this.wake) return;
    const now = performance.now();
    let soonest = Infinity;
    for (const cache of this.caches()) {
      for (const entry of cache.unfilled()) {
        const wait = this.waitFor(entry.path, now);
        if (wait > 0) soonest = Math.min(soonest, wait);
      }
    }
    if (soonest === Infinity) return;
    this.wake = setTimeout(() => {
      this.wake = null;
      void this.kick();
    }, soonest + 1);
  }

  private pick(): { cache: RepositoryCache; entry: CacheEntry } | null {
    let best: { cache: RepositoryCache; entry: CacheEntry; rank: number } | null = null;
    const now = performance.now();
    for (const cache of this.caches()) {
      const pending = [...cache.unfilled()].filter((e) => this.waitFor(e.path, now) === 0);
      if (!pending.length) continue;
      const activeText = this.activePath ? cache.documents.get(this.activePath)?.text : undefined;
      const imported = activeText
        ? importedPaths(activeText, this.activePath!, cache.fileEntries.keys())
        : new Set<string>();
      for (const entry of pending) {
        const rank = this.priority(entry, imported) * 1e12 + entry.recency;
        if (!best || rank > best.rank) best = { cache, entry, rank };
      }
    }
    return best;
  }

  private emit(phase: IndexProgress['phase'], leftTokens: number, leftSegments: number): void {
    const elapsed = (performance.now() - this.startedAt) / 1000;
    const rate = elapsed > 0 ? this.done.tokens / elapsed : 0;
    this.report({
      phase,
      doneTokens: this.done.tokens,
      totalTokens: this.done.tokens + leftTokens,
      doneSegments: this.done.segments,
      totalSegments: this.done.segments + leftSegments,
      etaSeconds: rate > 0 && this.done.segments >= 3 ? leftTokens / rate : null,
    });
  }
}
