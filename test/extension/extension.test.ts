import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
vi.mock('vscode', () => import('../helpers/fake-vscode'));
import type * as vscode from 'vscode';
import { activate, deactivate } from '../../src/extension/extension';
import { fake, Uri } from '../helpers/fake-vscode';
import { buildTestSidecar } from '../sidecar/child';

/** The extension as VS Code would run it, but with the test sidecar (fake service) as `dist/sidecar.js`. */
async function activated() {
  const values = new Map<string, unknown>();
  const context = {
    subscriptions: [] as { dispose(): unknown }[],
    extensionUri: Uri.file('/ext'),
    globalStorageUri: Uri.file(mkdtempSync(path.join(os.tmpdir(), 'repokv-ext-'))),
    workspaceState: {
      get: (k: string) => values.get(k),
      update: async (k: string, v: unknown) => void values.set(k, v),
    },
    asAbsolutePath: (rel: string) => (rel === 'dist/sidecar.js' ? buildTestSidecar() : path.join('/ext', rel)),
  };
  await activate(context as unknown as vscode.ExtensionContext);
  const status = fake.statusItems[0];
  await vi.waitFor(() => expect(status.text).toContain('tok'), { timeout: 5000 });
  return { context, status };
}

beforeAll(() => void buildTestSidecar(), 60_000);

afterEach(async () => {
  await deactivate();
  fake.reset();
});

describe('activate', { timeout: 20_000 }, () => {
  it('starts the sidecar, shows the cache in the status bar and registers the commands and the chat view', async () => {
    const { context, status } = await activated();
    expect(status.text).toBe('$(database) 1.2k tok · 46.9 KB · 9.6× · cpu');
    expect([...fake.commands.keys()].sort()).toEqual([
      'repokv.openChat',
      'repokv.rebuildCache',
      'repokv.restartSidecar',
      'repokv.selectModel',
      'repokv.showCacheStats',
    ]);
    expect(fake.webviewViews.has('repokv.chat')).toBe(true);
    expect(context.subscriptions.length).toBeGreaterThan(8);
  });

  it('Show Cache Statistics: a summary, then the details panel with the charts on request', async () => {
    await activated();
    fake.messageAnswers.push('Open details');
    await fake.commands.get('repokv.showCacheStats')!();
    expect(fake.messages[0]).toMatchObject({ kind: 'info', items: ['Open details'] });
    expect(fake.messages[0]!.message).toContain('3 files, 1.2k tokens (600 kept)');
    const panel = fake.panels[0];
    expect(panel.webview.html).toContain('media/stats.js');
    await vi.waitFor(() => expect(panel.webview.posted).toHaveLength(1));
    const page = (panel.webview.posted[0] as { page: { charts: { title: string }[] } }).page;
    expect(page.charts.map((c) => c.title)).toContain('Memory per file');
  });

  it('Select Model refuses a folder the sidecar rejects, and stores one it accepts (re-initialising)', async () => {
    await activated();
    fake.openDialogAnswer = [Uri.file('/models/bad')];
    await fake.commands.get('repokv.selectModel')!();
    expect(fake.messages.at(-1)).toMatchObject({
      kind: 'error',
      message: 'RepoKV: not a usable model: /models/bad: no config.json',
    });
    expect(fake.settings.has('repokv.model.path')).toBe(false);
    fake.openDialogAnswer = [Uri.file('/models/good')];
    await fake.commands.get('repokv.selectModel')!();
    expect(fake.settings.get('repokv.model.path')).toBe('/models/good');
    fake.onDidChangeConfiguration.fire({ affectsConfiguration: (s: string) => 'repokv.model.path'.startsWith(s) });
    await vi.waitFor(() => expect(fake.progress.length).toBeGreaterThanOrEqual(2), { timeout: 5000 });
  });
});
