/**
 * The prefill scheduler leaves a file that is being typed in alone until a pause, then prefills it without
 * another kick; other files' segments are not held up meanwhile.
 */
import { describe, expect, it } from 'vitest';
import type { CacheEntry, RepositoryCache } from '../../src/cache/repository-cache';
import { PrefillScheduler } from '../../src/sidecar/scheduler';

function fakeCache(paths: string[]) {
  const filled: string[] = [];
  const entries = paths.map((p, i) => ({ key: `${p}#${i}`, path: p, tokens: 10, recency: i, kv: null }) as unknown);
  const cache = {
    filled,
    *unfilled() {
      for (const e of entries as CacheEntry[]) if (!filled.includes(e.key)) yield e;
    },
    pending() {
      return [...this.unfilled()];
    },
    async fill(e: CacheEntry) {
      filled.push(e.key);
    },
    documents: new Map<string, { text: string }>(),
    fileEntries: new Map<string, string[]>(),
  };
  return cache;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PrefillScheduler quiet period', () => {
  it('defers an edited file until it has been quiet, and fills everything else at once', async () => {
    const cache = fakeCache(['typed.ts', 'other.ts']);
    const scheduler = new PrefillScheduler(
      () => [cache as unknown as RepositoryCache],
      () => {},
      () => {},
      150,
    );
    scheduler.setActive('typed.ts');
    scheduler.noteEdit('typed.ts');
    await scheduler.kick();
    expect(cache.filled).toEqual(['other.ts#1']);
    await sleep(60);
    scheduler.noteEdit('typed.ts'); // typing on restarts the wait
    await sleep(110);
    expect(cache.filled).toEqual(['other.ts#1']);
    for (let i = 0; i < 100 && cache.filled.length < 2; i++) await sleep(20);
    expect(cache.filled).toEqual(['other.ts#1', 'typed.ts#0']);
    scheduler.stop();
  });

  it('without edits, the active file still goes first', async () => {
    const cache = fakeCache(['other.ts', 'typed.ts']);
    const scheduler = new PrefillScheduler(
      () => [cache as unknown as RepositoryCache],
      () => {},
    );
    scheduler.setActive('typed.ts');
    await scheduler.kick();
    expect(cache.filled).toEqual(['typed.ts#1', 'other.ts#0']);
  });
});
