/**
 * The repository cache's costs, as ratios measured in one run (DESIGN §6):
 * - a full index of a repository (files, tokens, kept tokens, bytes, seconds, peak memory);
 * - a one-line edit in one file vs a full re-index, against the changed segments' share of the tokens;
 * - a restart that reloads from the on-disk store vs the full prefill;
 * - completion latency with the whole repository cached vs with no repository context (p50/p90).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_CACHE_CONFIG } from '../src/cache/cache-config';
import { RepositoryCache } from '../src/cache/repository-cache';
import { cacheStatistics } from '../src/cache/repository-stats';
import { SegmentStore } from '../src/cache/store';
import type { CacheStatistics } from '../src/sidecar/service';
import type { Engine } from '../src/engine/engine';
import { seededRandom } from '../src/engine/sampling';
import { median, percentile } from './stats';

export interface RepositoryBenchResult extends Pick<
  CacheStatistics,
  'files' | 'segments' | 'tokens' | 'keptTokens' | 'bytes' | 'bytesPerToken' | 'compressionRatio'
> {
  indexSeconds: number;
  peakRssMiB: number;
  skipped: number;
  editRuns: { seconds: number; changedTokens: number; share: number; costVsFull: number }[];
  editCostVsFullMedian: number;
  editShareMedian: number;
  reloadSeconds: number[];
  reloadSpeedup: number;
  completeMs: { withRepository: number[]; withoutRepository: number[] };
}

async function openCache(engine: Engine, root: string, storeDir: string | null) {
  const store = storeDir ? new SegmentStore(storeDir, { maxBytes: 8 * 1024 ** 3 }) : null;
  const cache = await RepositoryCache.open({ root, engine, config: DEFAULT_CACHE_CONFIG, store });
  await cache.scan();
  return cache;
}

export async function benchRepository(
  engine: Engine,
  repo: string,
  opts: { edits: number; reloads: number; completions: number; progress: (l: string) => void },
): Promise<RepositoryBenchResult> {
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-bench-store-'));
  const t0 = performance.now();
  const cache = await openCache(engine, repo, storeDir);
  let last = 0;
  await cache.prefillPending((p) => {
    if (p.doneTokens - last > p.totalTokens / 20) {
      last = p.doneTokens;
      opts.progress(`index ${p.doneSegments}/${p.totalSegments} segments`);
    }
  });
  const indexSeconds = (performance.now() - t0) / 1000;
  const stats = await cacheStatistics(cache, 0);
  const peakRssMiB = process.resourceUsage().maxRSS / 1024;

  // One-line edits: a comment line appended inside a random file, prefilling what changed (no store, so the
  // edit pays the prefill it would pay in an editor session).
  const random = seededRandom(7);
  const files = [...cache.fileEntries.keys()].sort();
  const editRuns: RepositoryBenchResult['editRuns'] = [];
  for (let i = 0; i < opts.edits; i++) {
    const file = files[Math.floor(random() * files.length)]!;
    const text = cache.documents.get(file)!.text;
    const lines = text.split('\n');
    const at = Math.floor(random() * lines.length);
    lines.splice(at, 0, `${/\.py$/.test(file) ? '#' : '//'} edit ${i}`);
    const before = cache.misses;
    const started = performance.now();
    await cache.setFile(file, lines.join('\n'));
    const changed = cache.pending().reduce((n, e) => n + e.tokens, 0);
    const store = cache.options.store;
    (cache.options as { store: SegmentStore | null }).store = null; // force prefill, as a first edit would
    await cache.prefillPending();
    (cache.options as { store: SegmentStore | null }).store = store;
    const seconds = (performance.now() - started) / 1000;
    if (cache.misses === before) continue;
    editRuns.push({
      seconds,
      changedTokens: changed,
      share: changed / stats.tokens,
      costVsFull: seconds / indexSeconds,
    });
  }

  // Completion latency, with and without the repository, at random positions of random files.
  const completeMs = { withRepository: [] as number[], withoutRepository: [] as number[] };
  for (let i = 0; i < opts.completions; i++) {
    const file = files[Math.floor(random() * files.length)]!;
    const text = cache.documents.get(file)!.text;
    const lines = text.split('\n');
    const line = Math.floor(random() * lines.length);
    const character = Math.min(lines[line]!.length, Math.floor(random() * 20));
    for (const useRepository of [true, false]) {
      const r = await cache.complete({ path: file, text, line, character, maxTokens: 16, useRepository });
      (useRepository ? completeMs.withRepository : completeMs.withoutRepository).push(r.ms);
    }
  }
  await cache.dispose();

  // Restarts: a new cache over the same store reloads every segment instead of prefilling.
  const reloadSeconds: number[] = [];
  for (let i = 0; i < opts.reloads; i++) {
    const started = performance.now();
    const again = await openCache(engine, repo, storeDir);
    await again.prefillPending();
    reloadSeconds.push((performance.now() - started) / 1000);
    if (again.misses > again.entries.size * 0.05) opts.progress(`warning: reload ${i} missed ${again.misses} segments`);
    await again.dispose();
  }
  fs.rmSync(storeDir, { recursive: true, force: true });
  return {
    files: stats.files,
    segments: stats.segments,
    tokens: stats.tokens,
    keptTokens: stats.keptTokens,
    bytes: stats.bytes,
    bytesPerToken: stats.bytesPerToken,
    compressionRatio: stats.compressionRatio,
    indexSeconds,
    peakRssMiB,
    skipped: stats.skipped.length,
    editRuns,
    editCostVsFullMedian: median(editRuns.map((e) => e.costVsFull)),
    editShareMedian: median(editRuns.map((e) => e.share)),
    reloadSeconds,
    reloadSpeedup: indexSeconds / median(reloadSeconds),
    completeMs,
  };
}

export function completionSummary(ms: number[]): string {
  return `p50 ${median(ms).toFixed(0)} ms, p90 ${percentile(ms, 90).toFixed(0)} ms`;
}
