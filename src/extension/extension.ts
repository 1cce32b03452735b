/**
 * RepoKV's entry point. `activate` only wires the parts together; each part is one file:
 * the sidecar client (sidecar-client.ts) serves inline completions (completion-provider.ts), the chat view
 * (chat-view.ts) and VS Code's language model API (lm-provider.ts), fed by the document sync (document-sync.ts),
 * shown by the status bar (status-bar.ts) and the indexing notification (indexing-progress.ts), and driven by the
 * commands (commands.ts) and settings (settings.ts).
 */
import * as vscode from 'vscode';
import { ChatViewProvider } from './chat-view';
import { registerCommands } from './commands';
import { RepoKvCompletionProvider } from './completion-provider';
import { DocumentSync } from './document-sync';
import { IndexingProgress } from './indexing-progress';
import { registerLanguageModelProvider } from './lm-provider';
import { affectsService, readCompletionSettings } from './settings';
import type { SidecarClient } from './sidecar-client';
import { createSidecarClient } from './sidecar-setup';
import { StatusBar } from './status-bar';

let client: SidecarClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const log = vscode.window.createOutputChannel('RepoKV', { log: true });
  const sidecar = createSidecarClient(context, log);
  client = sidecar;
  const chat = new ChatViewProvider(context.extensionUri, context.workspaceState, sidecar);
  const status = new StatusBar(sidecar);

  context.subscriptions.push(
    log,
    { dispose: () => void sidecar.dispose() },
    vscode.languages.registerInlineCompletionItemProvider(
      { pattern: '**' },
      new RepoKvCompletionProvider(sidecar, { settings: readCompletionSettings }),
    ),
    new DocumentSync(sidecar),
    status,
    new IndexingProgress(sidecar),
    chat,
    vscode.window.registerWebviewViewProvider(ChatViewProvider.viewType, chat, {
      webviewOptions: { retainContextWhenHidden: true },
    }),
    ...registerCommands(context.extensionUri, sidecar, chat, () => void status.refresh()),
    ...optional(registerLanguageModelProvider(sidecar, (message) => log.info(message))),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (affectsService(event)) sidecar.reinitialize();
    }),
  );

  await vscode.workspace.fs.createDirectory(context.globalStorageUri);
  sidecar.start();
}

/** Awaited by VS Code on shutdown: the sidecar gets to finish its cache writes and exit cleanly. */
export function deactivate(): Promise<void> | undefined {
  const stopping = client?.dispose();
  client = undefined;
  return stopping;
}

function optional<T>(value: T | undefined): T[] {
  return value === undefined ? [] : [value];
}
