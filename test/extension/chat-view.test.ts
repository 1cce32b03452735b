import { beforeEach, describe, expect, it, vi } from 'vitest';
vi.mock('vscode', () => import('../helpers/fake-vscode'));
import type * as vscode from 'vscode';
import { HISTORY_STATE_KEY } from '../../src/extension/chat/history';
import type { ChatBackend } from '../../src/extension/chat-session';
import { ChatViewProvider } from '../../src/extension/chat-view';
import type { ChatRequest } from '../../src/sidecar/protocol';
import { EventEmitter, Position, Selection, Uri, fake } from '../helpers/fake-vscode';
import { FakeTextDocument } from './fake-document';

const CSP_SOURCE = 'https://webview.test';
const uri = (path: string) => Uri.file(path) as unknown as vscode.Uri;

function memento() {
  const values = new Map<string, unknown>();
  return {
    values,
    get: (k: string) => values.get(k),
    update: async (k: string, v: unknown) => void values.set(k, v),
    keys: () => [...values.keys()],
  };
}

/** Streams `answer` word by word; 'forever' streams until cancelled; 'fail' throws. */
function backend(answer = 'Use `foo()`.') {
  const requests: ChatRequest[] = [];
  const b: ChatBackend = {
    async chat(request, onDelta, token) {
      requests.push(request);
      const question = request.messages.at(-1)!.content;
      if (question === 'fail') throw new Error('the sidecar is not running');
      if (question === 'forever') {
        while (!token.isCancellationRequested) {
          onDelta('more ');
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        return undefined;
      }
      for (const word of answer.split(/(?= )/)) onDelta(word);
      return { text: answer, tokens: 3, ms: 1 };
    },
  };
  return { b, requests };
}

function resolveView(provider: ChatViewProvider) {
  const posted: Record<string, unknown>[] = [];
  const messages = new EventEmitter<unknown>();
  const webview = {
    options: {},
    html: '',
    cspSource: CSP_SOURCE,
    asWebviewUri: (u: Uri) => Uri.parse(`${CSP_SOURCE}${u.path}`),
    postMessage: async (m: Record<string, unknown>) => posted.push(m),
    onDidReceiveMessage: messages.event,
  };
  const view = { webview, onDidDispose: new EventEmitter<void>().event };
  provider.resolveWebviewView(view as unknown as vscode.WebviewView);
  return { webview, posted, send: (m: unknown) => messages.fire(m) };
}

function editor(path: string, text: string, selection: Selection) {
  const document = new FakeTextDocument(Uri.file(path), text);
  const e = {
    document,
    selection,
    selections: [selection],
    edit: async (build: (b: { replace: (s: Selection, t: string) => void }) => void) => {
      build({ replace: (s, t) => void document.edit(s, t) });
      return true;
    },
  };
  fake.activeTextEditor = e;
  return e;
}

beforeEach(() => fake.reset());

describe('ChatViewProvider', () => {
  it('builds the page with a nonce, the webview CSP source and media through asWebviewUri', () => {
    const provider = new ChatViewProvider(uri('/ext'), memento() as never, backend().b);
    const { webview } = resolveView(provider);
    expect(webview.options).toEqual({ enableScripts: true, localResourceRoots: [Uri.file('/ext/media')] });
    const nonce = /<script nonce="([^"]+)"/.exec(webview.html)?.[1];
    expect(nonce).toMatch(/^[A-Za-z0-9+/]{24}$/);
    expect(webview.html).toContain(`script-src &#39;nonce-${nonce}&#39;`);
    expect(webview.html).toContain(`style-src ${CSP_SOURCE};`);
    expect(webview.html).toContain(`<script nonce="${nonce}" src="${CSP_SOURCE}/ext/media/chat.js">`);
  });

  it('streams an answer (start, deltas of rendered HTML, end) and keeps the history in workspaceState', async () => {
    const state = memento();
    const { b, requests } = backend();
    const provider = new ChatViewProvider(uri('/ext'), state as never, b);
    const { posted } = resolveView(provider);
    await provider.handle({ type: 'ask', text: 'How?', includeSelection: false, includeFile: false });
    expect(posted.map((m) => m['type'])).toEqual(['start', 'delta', 'end']);
    expect(posted[1]!['html']).toContain('<code>foo()</code>');
    expect(requests[0]).toEqual({ messages: [{ role: 'user', content: 'How?' }], attachments: undefined });
    await provider.handle({ type: 'ask', text: 'And then?', includeSelection: false, includeFile: false });
    expect(requests[1]!.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    const stored = state.values.get(HISTORY_STATE_KEY) as { messages: { text: string }[] };
    expect(stored.messages.map((m) => m.text)).toEqual(['How?', 'Use `foo()`.', 'And then?', 'Use `foo()`.']);

    // A re-created view asks for the history and gets it rendered.
    const again = new ChatViewProvider(uri('/ext'), state as never, b);
    const view = resolveView(again);
    view.send({ type: 'ready' });
    await vi.waitFor(() => expect(view.posted[0]!['type']).toBe('history'));
    expect((view.posted[0]!['messages'] as unknown[]).length).toBe(4);
  });

  it('stop cancels the answer being written; an error is reported to the page', async () => {
    const provider = new ChatViewProvider(uri('/ext'), memento() as never, backend().b);
    const { posted } = resolveView(provider);
    const turn = provider.handle({ type: 'ask', text: 'forever', includeSelection: false, includeFile: false });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(provider.session.busy).toBe(true);
    await provider.handle({ type: 'stop' });
    await turn;
    expect(provider.session.busy).toBe(false);
    expect(posted.at(-1)).toMatchObject({ type: 'end' });
    await provider.handle({ type: 'ask', text: 'fail', includeSelection: false, includeFile: false });
    expect(posted.at(-1)).toEqual({ type: 'error', message: 'RepoKV could not answer: the sidecar is not running' });
  });

  it('attaches the selection and the file when asked, but never a secret file', async () => {
    const { b, requests } = backend();
    const provider = new ChatViewProvider(uri('/repo'), memento() as never, b);
    resolveView(provider);
    editor('/repo/src/a.ts', 'const a = 1;\nconst b = 2;', new Selection(new Position(1, 0), new Position(1, 12)));
    await provider.handle({ type: 'ask', text: 'q', includeSelection: true, includeFile: true });
    expect(requests[0]!.attachments).toEqual([
      { path: 'src/a.ts (selection)', text: 'const b = 2;' },
      { path: 'src/a.ts', text: 'const a = 1;\nconst b = 2;' },
    ]);
    editor('/repo/.env', 'TOKEN=x', new Selection(new Position(0, 0), new Position(0, 7)));
    await provider.handle({ type: 'ask', text: 'q2', includeSelection: true, includeFile: true });
    expect(requests[1]!.attachments).toBeUndefined();
  });

  it('copies to the clipboard and inserts at the cursor; ignores malformed page messages', async () => {
    const provider = new ChatViewProvider(uri('/ext'), memento() as never, backend().b);
    const { send, posted } = resolveView(provider);
    await provider.handle({ type: 'copy', code: 'x = 1' });
    expect(fake.clipboard).toBe('x = 1');
    const e = editor('/repo/a.py', 'a\nb', new Selection(new Position(1, 0), new Position(1, 1)));
    await provider.handle({ type: 'insert', code: 'print(b)' });
    expect(e.document.getText()).toBe('a\nprint(b)');
    send({ type: 'ask', text: 42 });
    send({ type: 'insert' });
    send('garbage');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(posted).toEqual([]);
  });
});
