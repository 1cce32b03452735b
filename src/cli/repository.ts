/** Opening a repository for the cache-using commands: engine, on-disk store, scan, prefill with progress. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CacheConfig } from '../cache/cache-config';
import { RepositoryCache } from '../cache/repository-cache';
import { SegmentStore } from '../cache/store';
import { defaultCacheDir } from '../engine/paths';
import { type CommonOptions, loadEngine } from './common-options';
import { CliError, progress } from './output';

export const DEFAULT_STORE_MB = 4096;

export async function openRepository(
  repo: string,
  opts: CommonOptions,
  config: CacheConfig,
  prefill: boolean,
): Promise<RepositoryCache> {
  const root = path.resolve(repo);
  if (!fs.existsSync(root) || !fs.statSync(root).isDirectory()) throw new CliError(`not a directory: ${repo}`);
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const engine = await loadEngine({ ...opts, cacheDir });
  const store = new SegmentStore(path.join(cacheDir, 'store'), { maxBytes: DEFAULT_STORE_MB * 1024 * 1024 });
  const cache = await RepositoryCache.open({ root, engine, config, store, log: opts.verbose ? progress : undefined });
  await cache.scan();
  if (prefill) {
    let lastReported = -1;
    await cache.prefillPending((p) => {
      const pct = Math.floor((100 * p.doneTokens) / Math.max(1, p.totalTokens));
      if (pct >= lastReported + 10 || p.doneSegments === p.totalSegments) {
        lastReported = pct;
        progress(
          `prefill ${p.doneSegments}/${p.totalSegments} segments, ${p.doneTokens}/${p.totalTokens} tokens (${pct}%)`,
        );
      }
    });
  }
  return cache;
}

export async function closeRepository(cache: RepositoryCache): Promise<void> {
  await cache.dispose();
  await cache.engine.dispose();
}
