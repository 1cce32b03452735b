import { beforeEach, describe, expect, it, vi } from 'vitest';
vi.mock('vscode', () => import('../helpers/fake-vscode'));
import type * as vscode from 'vscode';
import { affectsService, readCompletionSettings, readServiceSettings } from '../../src/extension/settings';
import { fake } from '../helpers/fake-vscode';

beforeEach(() => fake.reset());

describe('settings', () => {
  it('reads the defaults of DESIGN section 7', () => {
    expect(readServiceSettings('/storage')).toEqual({
      modelPath: '',
      executionProvider: 'auto',
      weightBits: 'auto',
      cache: { kvBits: 2, keepRatio: 0.5, sinkTokens: 4, eviction: 'defensive', maxMemoryMB: 1024 },
      cacheDir: '/storage',
      exclude: [],
    });
    expect(readCompletionSettings()).toEqual({ debounceMs: 100, maxTokens: 64 });
  });

  it('clamps hand-edited values to usable ones and passes files.exclude and repokv.exclude on', () => {
    fake.settings.set('repokv.cache.kvBits', 3);
    fake.settings.set('repokv.cache.keepRatio', 7);
    fake.settings.set('repokv.executionProvider', 'tpu');
    fake.settings.set('repokv.completion.maxTokens', 'lots');
    fake.settings.set('repokv.completion.debounceMs', -5);
    fake.settings.set('files.exclude', { '**/.git': true });
    fake.settings.set('repokv.exclude', { '**/*.min.js': true });
    const s = readServiceSettings('/storage');
    expect(s).toMatchObject({ executionProvider: 'auto', cache: { kvBits: 2, keepRatio: 1 } });
    expect(s.exclude).toEqual([{ '**/.git': true }, { '**/*.min.js': true }]);
    expect(readCompletionSettings()).toEqual({ debounceMs: 0, maxTokens: 64 });
  });

  it('re-initialises for model, provider, cache and exclude changes, not for completion settings', () => {
    const changed = (key: string) =>
      ({
        affectsConfiguration: (section: string) => key === section || key.startsWith(`${section}.`),
      }) as vscode.ConfigurationChangeEvent;
    expect(
      ['repokv.model.path', 'repokv.cache.kvBits', 'repokv.exclude', 'files.exclude'].every((k) =>
        affectsService(changed(k)),
      ),
    ).toBe(true);
    expect(affectsService(changed('repokv.completion.debounceMs'))).toBe(false);
  });
});
