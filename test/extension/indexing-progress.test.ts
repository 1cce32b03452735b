import { beforeEach, describe, expect, it, vi } from 'vitest';
vi.mock('vscode', () => import('../helpers/fake-vscode'));
import { IndexingProgress, type IndexingSource } from '../../src/extension/indexing-progress';
import type { SidecarState } from '../../src/extension/sidecar-client';
import type { IndexProgress } from '../../src/sidecar/protocol';
import { EventEmitter, fake } from '../helpers/fake-vscode';

function source() {
  const states = new EventEmitter<SidecarState>();
  const progress = new EventEmitter<IndexProgress>();
  const s = {
    state: 'starting' as SidecarState,
    onDidChangeState: states.event,
    onProgress: progress.event,
    cancelIndexing: vi.fn(),
  };
  const setState = (state: SidecarState): void => {
    s.state = state;
    states.fire(state);
  };
  return { s: s as IndexingSource & { cancelIndexing: ReturnType<typeof vi.fn> }, setState, progress };
}

const at = (doneTokens: number): IndexProgress => ({
  doneTokens,
  totalTokens: 200,
  doneSegments: 0,
  totalSegments: 4,
  etaSeconds: 3,
  phase: 'prefilling',
});

beforeEach(() => fake.reset());

describe('IndexingProgress', () => {
  it('shows a cancellable notification while indexing, with increments that add up to the progress', async () => {
    const { s, setState, progress } = source();
    new IndexingProgress(s);
    setState('indexing');
    expect(fake.progress).toHaveLength(1);
    expect(fake.progress[0]!.options).toMatchObject({ title: 'RepoKV: indexing', cancellable: true });
    progress.fire(at(50));
    progress.fire(at(150));
    const reports = fake.progress[0]!.reports;
    expect(reports.map((r) => r.increment)).toEqual([25, 50]);
    expect(reports[1].message).toBe('150 of 200 tokens, about 3 s left');
    setState('ready');
    await fake.progress[0]!.done;
  });

  it('cancelling the notification cancels the indexing in the sidecar', () => {
    const { s, setState } = source();
    new IndexingProgress(s);
    setState('indexing');
    fake.progress[0]!.cancel();
    expect(s.cancelIndexing).toHaveBeenCalledTimes(1);
  });
});
