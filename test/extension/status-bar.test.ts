import { beforeEach, describe, expect, it, vi } from 'vitest';
vi.mock('vscode', () => import('../helpers/fake-vscode'));
import { formatBytes, formatCount, formatRatio } from '../../src/extension/format';
import type { SidecarState } from '../../src/extension/sidecar-client';
import { StatusBar, statusView, type StatusSource } from '../../src/extension/status-bar';
import type { CacheStatistics, IndexProgress } from '../../src/sidecar/protocol';
import { EventEmitter, fake } from '../helpers/fake-vscode';
import { FAKE_STATS } from '../sidecar/fake-service';

const progress = (p: Partial<IndexProgress>): IndexProgress => ({
  doneTokens: 0,
  totalTokens: 1000,
  doneSegments: 0,
  totalSegments: 10,
  etaSeconds: null,
  phase: 'prefilling',
  ...p,
});

beforeEach(() => fake.reset());

describe('statusView', () => {
  it('shows indexing progress as a percentage with the counts in the tooltip', () => {
    const v = statusView('indexing', progress({ doneTokens: 420, doneSegments: 4, etaSeconds: 7.2 }), undefined);
    expect(v.text).toBe('$(sync~spin) RepoKV 42%');
    expect(v.tooltip).toBe('RepoKV: prefilling 420 of 1k tokens (4 of 10 segments, about 8 s left)');
    expect(statusView('indexing', progress({ phase: 'scanning', totalTokens: 0 }), undefined).text).toBe(
      '$(sync~spin) RepoKV scanning',
    );
  });

  it('shows tokens cached, bytes, compression ratio and provider once ready', () => {
    const v = statusView('ready', progress({ phase: 'idle' }), FAKE_STATS);
    expect(v.text).toBe('$(database) 1.2k tok · 46.9 KB · 9.6× · cpu');
    expect(v.tooltip).toContain('1.2k tokens cached from 3 files (600 kept after eviction)');
    expect(v.error).toBe(false);
  });

  it('background indexing while ready shows progress; failures show the reason', () => {
    expect(statusView('ready', progress({ doneTokens: 500 }), FAKE_STATS).text).toBe('$(sync~spin) RepoKV 50%');
    const failed = statusView('failed', undefined, FAKE_STATS, 'the model folder has no config.json');
    expect(failed).toEqual({
      text: '$(error) RepoKV',
      tooltip: 'RepoKV: the model folder has no config.json',
      error: true,
    });
    expect(statusView('restarting', undefined, undefined).text).toBe('$(debug-restart) RepoKV restarting');
    expect(statusView('stopped', undefined, undefined).text).toBe('$(circle-slash) RepoKV');
  });
});

describe('format', () => {
  it('keeps numbers short', () => {
    expect([0, 999, 1234, 56_789, 1_234_567].map(formatCount)).toEqual(['0', '999', '1.23k', '56.8k', '1.23M']);
    expect([512, 2048, 5 * 1024 * 1024].map(formatBytes)).toEqual(['512 B', '2 KB', '5 MB']);
    expect(formatRatio(7.84)).toBe('7.84×');
    expect(formatRatio(0)).toBe('–');
  });
});

describe('StatusBar', () => {
  function source(stats: CacheStatistics) {
    const states = new EventEmitter<SidecarState>();
    const progresses = new EventEmitter<IndexProgress>();
    const s = {
      state: 'starting' as SidecarState,
      lastError: undefined as string | undefined,
      onDidChangeState: states.event,
      onProgress: progresses.event,
      stats: vi.fn(async () => stats),
    };
    const setState = (state: SidecarState): void => {
      s.state = state;
      states.fire(state);
    };
    return { s, setState, progresses };
  }

  it('follows the sidecar from start through indexing to the cache statistics; a click opens them', async () => {
    const { s, setState, progresses } = source(FAKE_STATS);
    const bar = new StatusBar(s as unknown as StatusSource);
    const item = fake.statusItems[0];
    expect(item.visible).toBe(true);
    expect(item.command).toBe('repokv.showCacheStats');
    expect(item.text).toBe('$(loading~spin) RepoKV');
    setState('indexing');
    progresses.fire(progress({ doneTokens: 250 }));
    expect(item.text).toBe('$(sync~spin) RepoKV 25%');
    progresses.fire(progress({ phase: 'idle', doneTokens: 1000 }));
    setState('ready');
    await vi.waitFor(() => expect(item.text).toBe(`$(database) 1.2k tok · ${formatBytes(48_000)} · 9.6× · cpu`));
    expect(s.stats).toHaveBeenCalled();
    s.lastError = 'boom';
    setState('failed');
    expect(item.text).toBe('$(error) RepoKV');
    expect(item.backgroundColor?.id).toBe('statusBarItem.errorBackground');
    bar.dispose();
  });
});
