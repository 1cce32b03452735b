import { afterEach, describe, expect, it, vi } from 'vitest';
vi.mock('vscode', () => import('../helpers/fake-vscode'));
import type * as vscode from 'vscode';
import type { ChatBackend } from '../../src/extension/chat-session';
import { MODEL_INFORMATION, registerLanguageModelProvider } from '../../src/extension/lm-provider';
import { CancellationTokenSource, LanguageModelTextPart, lm } from '../helpers/fake-vscode';

const backend: ChatBackend = {
  async chat(request, onDelta) {
    onDelta('Hi ');
    onDelta(`(${request.messages.map((m) => `${m.role}:${m.content}`).join('|')})`);
    return { text: '', tokens: 2, ms: 1 };
  },
};

afterEach(() => {
  delete lm['registerLanguageModelChatProvider'];
});

describe('registerLanguageModelProvider', () => {
  it('registers nothing, and says so, where VS Code has no Language Model Chat Provider API', () => {
    const log: string[] = [];
    expect(registerLanguageModelProvider(backend, (m) => log.push(m))).toBeUndefined();
    expect(log[0]).toContain('no Language Model Chat Provider API');
  });

  it('offers the local model and streams its answer as text parts where the API exists', async () => {
    let registered: { vendor: string; provider: Record<string, (...args: unknown[]) => unknown> } | undefined;
    lm['registerLanguageModelChatProvider'] = (vendor: string, provider: never) => {
      registered = { vendor, provider };
      return { dispose: () => undefined };
    };
    const disposable = registerLanguageModelProvider(backend, () => undefined);
    expect(disposable).toBeDefined();
    expect(registered?.vendor).toBe('repokv');
    const provider = registered!.provider;
    expect(provider['provideLanguageModelChatInformation']!({ silent: true }, undefined)).toEqual([MODEL_INFORMATION]);
    const parts: unknown[] = [];
    const messages = [
      { role: 1, content: [new LanguageModelTextPart('What is '), new LanguageModelTextPart('this?')] },
      { role: 2, content: [new LanguageModelTextPart('A repo.')] },
      { role: 1, content: [{ callId: 'tool' }] },
    ];
    const token = new CancellationTokenSource().token as unknown as vscode.CancellationToken;
    await provider['provideLanguageModelChatResponse']!(
      MODEL_INFORMATION,
      messages,
      {},
      { report: (p: unknown) => parts.push(p) },
      token,
    );
    expect(parts.map((p) => (p as LanguageModelTextPart).value).join('')).toBe(
      'Hi (user:What is this?|assistant:A repo.)',
    );
    expect(parts[0]).toBeInstanceOf(LanguageModelTextPart);
    expect(await provider['provideTokenCount']!(MODEL_INFORMATION, 'x'.repeat(40), token)).toBe(10);
  });
});
