/**
 * Inline completions (ghost text). One call, in order:
 * 1. refuse documents that are not the user's files, and secret files (a key must never be completed from a KV
 *    cache, nor sent to it);
 * 2. answer from the result cache when the user is typing into the suggestion shown last: no request at all;
 * 3. wait for the typing to pause (adaptive debounce), and give up if VS Code cancels meanwhile;
 * 4. ask the sidecar, passing the cancellation on, so the next keystroke stops the decode loop;
 * 5. post-process the raw text with the document's indentation and following lines, remember it, show it.
 * Partial accept (word by word, line by line) is VS Code's own commands over the shown item: nothing to do here.
 */
import * as vscode from 'vscode';
import type { CompletionRequest, CompletionResult } from '../sidecar/protocol';
import { isSecretPath } from '../syntax/secrets';
import { AdaptiveDebouncer, debounceOptionsFromSetting, type Clock } from './completion/debounce';
import { postprocess } from './completion/postprocess';
import { CompletionResultCache } from './completion/result-cache';
import { completionInput, type CompletionInput } from './completion-input';
import type { CompletionSettings } from './settings';
import { workspacePath } from './workspace-path';

export interface CompletionBackend {
  complete(request: CompletionRequest, token: vscode.CancellationToken): Promise<CompletionResult | undefined>;
}

export interface CompletionProviderOptions {
  /** Read on every request, so a settings change applies to the next keystroke. */
  readonly settings: () => CompletionSettings;
  readonly clock?: Clock;
  readonly cache?: CompletionResultCache;
}

export class RepoKvCompletionProvider implements vscode.InlineCompletionItemProvider {
  private readonly cache: CompletionResultCache;
  private debouncer: AdaptiveDebouncer | undefined;
  private debounceMs: number | undefined;

  constructor(
    private readonly backend: CompletionBackend,
    private readonly options: CompletionProviderOptions,
  ) {
    this.cache = options.cache ?? new CompletionResultCache();
  }

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const path = workspacePath(document.uri);
    if (path === undefined || isSecretPath(path)) return undefined;
    const input = completionInput(document, position, context.selectedCompletionInfo);
    if (!input) return undefined;
    const uri = document.uri.toString();

    const rest = this.cache.get(uri, input.prefix);
    if (rest !== undefined) return [item(input, rest)];

    const settings = this.options.settings();
    // An explicit request (Alt+\) is a pause by definition; only automatic triggers follow the typing rhythm.
    if (context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic) {
      const debouncer = this.debouncerFor(settings.debounceMs);
      debouncer.recordKeystroke();
      // No wait configured (debounceMs 0): not even a timer turn, the request goes out now.
      if (debouncer.currentDelay() > 0 && !(await debouncer.wait(abortSignal(token)))) return undefined;
    }
    if (token.isCancellationRequested) return undefined;

    const result = await this.backend.complete(
      {
        path,
        text: input.text,
        version: document.version,
        line: input.line,
        character: input.character,
        maxTokens: settings.maxTokens,
      },
      token,
    );
    if (!result) return undefined;
    const text = postprocess({ ...input.context, completion: result.text });
    if (text === null) return undefined;
    // Remembered even when this request was superseded: the next keystroke may well type into it.
    this.cache.set(uri, input.prefix, text);
    return token.isCancellationRequested ? undefined : [item(input, text)];
  }

  private debouncerFor(debounceMs: number): AdaptiveDebouncer {
    if (!this.debouncer || this.debounceMs !== debounceMs) {
      this.debouncer?.cancel();
      this.debouncer = new AdaptiveDebouncer(debounceOptionsFromSetting(debounceMs, this.options.clock));
      this.debounceMs = debounceMs;
    }
    return this.debouncer;
  }
}

function item(input: CompletionInput, continuation: string): vscode.InlineCompletionItem {
  return new vscode.InlineCompletionItem(input.lead + continuation, input.replace);
}

/** The token as an AbortSignal, which is what the debouncer (like the sidecar's service) listens to. */
function abortSignal(token: vscode.CancellationToken): AbortSignal {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  else {
    const subscription = token.onCancellationRequested(() => {
      subscription.dispose();
      controller.abort();
    });
  }
  return controller.signal;
}
