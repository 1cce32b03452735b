import { beforeEach, describe, expect, it, vi } from 'vitest';
vi.mock('vscode', () => import('../helpers/fake-vscode'));
import type * as vscode from 'vscode';
import { RepoKvCompletionProvider, type CompletionBackend } from '../../src/extension/completion-provider';
import type { CompletionRequest, CompletionResult } from '../../src/sidecar/protocol';
import {
  CancellationTokenSource,
  InlineCompletionTriggerKind,
  Position,
  Range,
  Uri,
  fake,
} from '../helpers/fake-vscode';
import { FakeTextDocument } from './fake-document';
import { FakeClock } from './fake-clock';

/** A backend that answers from a queue, or holds the answer until the test releases it. */
class FakeBackend implements CompletionBackend {
  readonly requests: { request: CompletionRequest; token: vscode.CancellationToken }[] = [];
  answers: string[] = [];
  hold = false;
  private release: (() => void) | undefined;

  async complete(request: CompletionRequest, token: vscode.CancellationToken): Promise<CompletionResult | undefined> {
    this.requests.push({ request, token });
    if (this.hold) await new Promise<void>((resolve) => (this.release = resolve));
    if (token.isCancellationRequested) return undefined;
    return { text: this.answers.shift() ?? '', tokens: 3, contextTokens: 100, ms: 5 };
  }

  releaseNow(): void {
    this.release?.();
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function setup(debounceMs = 100) {
  const clock = new FakeClock();
  const backend = new FakeBackend();
  const provider = new RepoKvCompletionProvider(backend, { settings: () => ({ debounceMs, maxTokens: 48 }), clock });
  return { clock, backend, provider };
}

function doc(path: string, text: string): FakeTextDocument {
  return new FakeTextDocument(Uri.file(path), text);
}

function ask(
  provider: RepoKvCompletionProvider,
  document: FakeTextDocument,
  position: Position,
  options: { token?: vscode.CancellationToken; invoke?: boolean; selected?: { range: Range; text: string } } = {},
) {
  const context = {
    triggerKind: options.invoke ? InlineCompletionTriggerKind.Invoke : InlineCompletionTriggerKind.Automatic,
    selectedCompletionInfo: options.selected,
  };
  return provider.provideInlineCompletionItems(
    document as unknown as vscode.TextDocument,
    position as unknown as vscode.Position,
    context as unknown as vscode.InlineCompletionContext,
    options.token ?? new CancellationTokenSource().token,
  );
}

const end = (d: FakeTextDocument): Position => d.positionAt(d.getText().length);

beforeEach(() => fake.reset());

describe('RepoKvCompletionProvider', { timeout: 10_000 }, () => {
  it('waits for the debounce, then sends the request with the cursor, version and settings', async () => {
    const { clock, backend, provider } = setup();
    backend.answers = ['compute(a, b);'];
    const d = doc('/repo/src/a.ts', 'function f() {\n  const x = ');
    const pending = ask(provider, d, end(d));
    await settle();
    expect(backend.requests).toHaveLength(0);
    clock.advance(100);
    const items = await pending;
    expect(backend.requests).toHaveLength(1);
    expect(backend.requests[0]!.request).toMatchObject({
      path: 'src/a.ts',
      line: 1,
      character: 12,
      version: 1,
      maxTokens: 48,
    });
    expect(items?.[0]?.insertText).toBe('compute(a, b);');
  });

  it('a keystroke during the wait supersedes the earlier call: one request for the burst', async () => {
    const { clock, backend, provider } = setup();
    backend.answers = ['b;'];
    const d = doc('/repo/a.ts', 'let a = ');
    const first = ask(provider, d, end(d));
    clock.advance(30);
    d.edit(new Range(end(d), end(d)), 'x');
    const second = ask(provider, d, end(d));
    expect(await first).toBeUndefined();
    clock.advance(1000);
    expect((await second)?.[0]?.insertText).toBe('b;');
    expect(backend.requests).toHaveLength(1);
  });

  it('an explicit request (Invoke) and debounceMs 0 do not wait', async () => {
    const { backend, provider } = setup();
    backend.answers = ['1;', '2;'];
    const d = doc('/repo/a.ts', 'let a = ');
    expect((await ask(provider, d, end(d), { invoke: true }))?.[0]?.insertText).toBe('1;');
    const zero = setup(0);
    zero.backend.answers = ['2;'];
    expect((await ask(zero.provider, d, end(d)))?.[0]?.insertText).toBe('2;');
  });

  it('cancellation during the wait sends nothing', async () => {
    const { clock, backend, provider } = setup();
    const d = doc('/repo/a.ts', 'let a = ');
    const source = new CancellationTokenSource();
    const pending = ask(provider, d, end(d), { token: source.token });
    source.cancel();
    clock.advance(1000);
    expect(await pending).toBeUndefined();
    expect(backend.requests).toHaveLength(0);
  });

  it('cancellation during the request reaches the backend and shows nothing', async () => {
    const { backend, provider } = setup(0);
    backend.hold = true;
    backend.answers = ['late();'];
    const d = doc('/repo/a.ts', 'let a = ');
    const source = new CancellationTokenSource();
    const pending = ask(provider, d, end(d), { token: source.token });
    await settle();
    expect(backend.requests).toHaveLength(1);
    source.cancel();
    expect(backend.requests[0]!.token.isCancellationRequested).toBe(true);
    backend.releaseNow();
    expect(await pending).toBeUndefined();
  });

  it('typing the suggestion keeps showing the rest from the cache, without a request or a wait', async () => {
    const { backend, provider } = setup(0);
    backend.answers = ['compute(a, b);'];
    const d = doc('/repo/a.ts', 'const x = ');
    await ask(provider, d, end(d));
    d.edit(new Range(end(d), end(d)), 'com');
    const items = await ask(provider, d, end(d));
    expect(items?.[0]?.insertText).toBe('pute(a, b);');
    expect(backend.requests).toHaveLength(1);
    d.edit(new Range(end(d), end(d)), 'X');
    await ask(provider, d, end(d));
    expect(backend.requests).toHaveLength(2);
  });

  it('post-processes the raw text: leaked special tokens, the rest of the function replayed', async () => {
    const { backend, provider } = setup(0);
    backend.answers = ['run();<|endoftext|>junk'];
    const d = doc('/repo/a.ts', 'function f() {\n  \n}\n');
    expect((await ask(provider, d, new Position(1, 2)))?.[0]?.insertText).toBe('run();');
    backend.answers = ['const upper = message.toUpperCase();\n  console.log(message);\n  return message;\n}'];
    const g = doc(
      '/repo/b.ts',
      'function g() {\n  const message = "hi";\n  \n  console.log(message);\n  return message;\n}',
    );
    expect((await ask(provider, g, new Position(2, 2)))?.[0]?.insertText).toBe('const upper = message.toUpperCase();');
  });

  it('refuses secret files and non-file documents without asking the sidecar', async () => {
    const { backend, provider } = setup(0);
    for (const path of ['/repo/.env', '/repo/config/secrets.yaml', '/home/u/.ssh/id_rsa']) {
      const d = doc(path, 'API_KEY=');
      expect(await ask(provider, d, end(d))).toBeUndefined();
    }
    const output = new FakeTextDocument(Uri.parse('output:extension-output'), 'log ');
    expect(await ask(provider, output, end(output))).toBeUndefined();
    expect(backend.requests).toHaveLength(0);
  });

  it('extends the selected suggest item: its text joins the prefix and leads the shown item', async () => {
    const { backend, provider } = setup(0);
    backend.answers = ['.log(x);'];
    const d = doc('/repo/a.ts', 'const y = 1;\ncon\nz();');
    const range = new Range(1, 0, 1, 3);
    const items = await ask(provider, d, new Position(1, 3), { selected: { range, text: 'console' } });
    const sent = backend.requests[0]!.request;
    expect(sent.text).toBe('const y = 1;\nconsole\nz();');
    expect(sent).toMatchObject({ line: 1, character: 7 });
    expect(items?.[0]?.insertText).toBe('console.log(x);');
    expect(items?.[0]?.range).toBe(range);
  });

  it('skips when the selected item does not surround the cursor', async () => {
    const { backend, provider } = setup(0);
    const d = doc('/repo/a.ts', 'foo bar');
    const selected = { range: new Range(0, 0, 0, 3), text: 'food' };
    expect(await ask(provider, d, new Position(0, 7), { selected })).toBeUndefined();
    expect(backend.requests).toHaveLength(0);
  });
});
