/**
 * Offers the local model to VS Code's own chat and to other extensions through the Language Model Chat Provider
 * API (`vscode.lm.registerLanguageModelChatProvider`, finalised after the VS Code this extension's types describe,
 * 1.100). So it is feature-detected at run time and typed loosely here, in one place: on a VS Code without the
 * API this registers nothing and RepoKV's own chat view is unaffected. When @types/vscode catches up, the local
 * types below can be replaced by the real ones.
 */
import * as vscode from 'vscode';
import type { ChatRequest } from '../sidecar/protocol';
import type { ChatBackend } from './chat-session';

export const LM_VENDOR = 'repokv';

/** What VS Code shows in its model picker (`LanguageModelChatInformation`). */
export const MODEL_INFORMATION = {
  id: 'repokv-local',
  name: 'RepoKV (local)',
  family: 'repokv',
  version: '1',
  tooltip: 'The local model, with this repository in its compressed KV cache',
  // The Qwen2.5-Coder family's trained context; the sidecar bounds what it actually attends to.
  maxInputTokens: 32_768,
  maxOutputTokens: 2_048,
  capabilities: { imageInput: false, toolCalling: false },
} as const;

/** The parts of the API used, as loosely as they are declared by the VS Code versions that have it. */
interface LanguageModelMessage {
  readonly role: number;
  readonly content: readonly unknown[] | string;
}
interface ProgressLike {
  report(part: unknown): void;
}
type Register = (vendor: string, provider: object) => vscode.Disposable;

/** Assistant in `LanguageModelChatMessageRole`; everything else (user, system) is sent as the user's. */
const ASSISTANT_ROLE = 2;

export function registerLanguageModelProvider(
  backend: ChatBackend,
  log: (message: string) => void,
): vscode.Disposable | undefined {
  const lm = (vscode as unknown as { lm?: Record<string, unknown> }).lm;
  const register = lm?.['registerLanguageModelChatProvider'];
  if (typeof register !== 'function') {
    log('this VS Code has no Language Model Chat Provider API: the model is only in the RepoKV chat view');
    return undefined;
  }
  const information = (): (typeof MODEL_INFORMATION)[] => [MODEL_INFORMATION];
  const provider = {
    provideLanguageModelChatInformation: information,
    // The name the method had while the API was proposed (VS Code 1.103).
    prepareLanguageModelChatInformation: information,
    async provideLanguageModelChatResponse(
      _model: unknown,
      messages: readonly LanguageModelMessage[],
      _options: unknown,
      progress: ProgressLike,
      token: vscode.CancellationToken,
    ): Promise<void> {
      const request: ChatRequest = { messages: messages.map(toChatMessage).filter((m) => m.content !== '') };
      await backend.chat(request, (delta) => progress.report(new vscode.LanguageModelTextPart(delta)), token);
    },
    async provideTokenCount(_model: unknown, text: string | LanguageModelMessage): Promise<number> {
      // No tokenizer in the extension host; code averages about four characters a token in BPE vocabularies.
      const chars = typeof text === 'string' ? text.length : toChatMessage(text).content.length;
      return Math.ceil(chars / 4);
    },
  };
  try {
    return (register as Register).call(lm, LM_VENDOR, provider);
  } catch (err) {
    log(`could not register the language model: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

export function toChatMessage(message: LanguageModelMessage): ChatRequest['messages'][number] {
  const parts = typeof message.content === 'string' ? [message.content] : message.content;
  const content = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const value = (part as { value?: unknown } | null)?.value;
      return typeof value === 'string' ? value : '';
    })
    .join('');
  return { role: message.role === ASSISTANT_ROLE ? 'assistant' : 'user', content };
}
