import { beforeEach, describe, expect, it, vi } from 'vitest';
vi.mock('vscode', () => import('../helpers/fake-vscode'));
import type { NotificationType } from 'vscode-jsonrpc';
import { DocumentSync, type DocumentSink } from '../../src/extension/document-sync';
import { EventEmitter, Range, Uri, fake } from '../helpers/fake-vscode';
import { FakeTextDocument } from './fake-document';

function sink() {
  const sent: { method: string; params: Record<string, unknown> }[] = [];
  const starts = new EventEmitter<void>();
  const outOfSync = new EventEmitter<string>();
  const s = {
    notify: <T>(type: NotificationType<T>, params: T) =>
      sent.push({ method: type.method, params: params as Record<string, unknown> }),
    onDidStart: starts.event,
    onOutOfSync: outOfSync.event,
  };
  return { s: s as unknown as DocumentSink, sent, starts, outOfSync };
}

const open = (path: string, text: string): FakeTextDocument => {
  const d = new FakeTextDocument(Uri.file(path), text);
  fake.textDocuments.push(d);
  return d;
};

beforeEach(() => fake.reset());

describe('DocumentSync', () => {
  it('sends the open documents with their buffers, never secret files or non-file documents', () => {
    open('/repo/src/a.ts', 'let a = 1;');
    open('/repo/.env', 'KEY=secret');
    fake.textDocuments.push(new FakeTextDocument(Uri.parse('git:/repo/src/a.ts'), 'old'));
    const t = sink();
    new DocumentSync(t.s);
    expect(t.sent).toEqual([
      { method: 'document/didOpen', params: { path: 'src/a.ts', version: 1, text: 'let a = 1;' } },
    ]);
  });

  it("forwards edits as VS Code's content changes with the version; closing hands over to the disk", () => {
    const t = sink();
    const sync = new DocumentSync(t.s);
    const d = new FakeTextDocument(Uri.file('/repo/b.ts'), 'ab\ncd');
    fake.onDidOpenTextDocument.fire(d);
    fake.onDidChangeTextDocument.fire(d.edit(new Range(1, 1, 1, 2), 'X'));
    fake.onDidChangeTextDocument.fire({ document: d, contentChanges: [] });
    fake.onDidCloseTextDocument.fire(d);
    expect(t.sent.map((m) => m.method)).toEqual(['document/didOpen', 'document/didChange', 'document/didClose']);
    expect(t.sent[1]!.params).toEqual({
      path: 'b.ts',
      version: 2,
      changes: [
        {
          range: { start: { line: 1, character: 1 }, end: { line: 1, character: 2 } },
          rangeOffset: 4,
          rangeLength: 1,
          text: 'X',
        },
      ],
    });
    sync.dispose();
  });

  it('re-sends every open document to a restarted sidecar, and one document when it is out of sync', () => {
    const a = open('/repo/a.ts', 'a');
    open('/repo/b.ts', 'b');
    const t = sink();
    new DocumentSync(t.s);
    fake.onDidChangeTextDocument.fire(a.edit(new Range(0, 1, 0, 1), '!'));
    t.sent.length = 0;
    t.starts.fire();
    expect(t.sent.map((m) => [m.params['path'], m.params['version']])).toEqual([
      ['a.ts', 2],
      ['b.ts', 1],
    ]);
    t.sent.length = 0;
    t.outOfSync.fire('a.ts');
    expect(t.sent).toEqual([{ method: 'document/didOpen', params: { path: 'a.ts', version: 2, text: 'a!' } }]);
  });

  it('sends disk changes of files not open in the editor, coalesced, and deletions as null', async () => {
    open('/repo/open.ts', 'buffer');
    const t = sink();
    new DocumentSync(t.s);
    t.sent.length = 0;
    fake.files.set('/repo/lib/c.ts', 'export const c = 1;');
    fake.watcher.onDidCreate.fire(Uri.file('/repo/lib/c.ts'));
    fake.watcher.onDidChange.fire(Uri.file('/repo/lib/c.ts'));
    fake.watcher.onDidChange.fire(Uri.file('/repo/open.ts'));
    fake.watcher.onDidChange.fire(Uri.file('/repo/node_modules/x/index.js'));
    fake.watcher.onDidChange.fire(Uri.file('/repo/id_rsa'));
    fake.watcher.onDidDelete.fire(Uri.file('/repo/lib/gone.ts'));
    await vi.waitFor(() => expect(t.sent).toHaveLength(2), { timeout: 2000 });
    expect(t.sent).toEqual(
      expect.arrayContaining([
        { method: 'file/didChange', params: { path: 'lib/c.ts', text: 'export const c = 1;' } },
        { method: 'file/didChange', params: { path: 'lib/gone.ts', text: null } },
      ]),
    );
  });
});
