/**
 * The sidecar client as the extension host runs it: the bundle next to the extension's own, the workspace
 * folders and settings for `initialize`, the log channel for everything it says, and the user's messages for
 * crashes, with a way to act on them.
 */
import * as vscode from 'vscode';
import type { LogLevel } from '../sidecar/protocol';
import { readServiceSettings } from './settings';
import { SidecarClient } from './sidecar-client';

export function createSidecarClient(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): SidecarClient {
  return new SidecarClient({
    sidecarPath: context.asAbsolutePath('dist/sidecar.js'),
    initializeParams: () => ({
      folders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
      // The segment store lives in the extension's global storage: shared by workspaces, never in a repository.
      settings: readServiceSettings(context.globalStorageUri.fsPath),
    }),
    log: (level, message) => logTo(log, level, message),
    notify: (kind, message) => void showMessage(kind, message, log),
  });
}

function logTo(log: vscode.LogOutputChannel, level: LogLevel, message: string): void {
  switch (level) {
    case 'trace':
      return log.trace(message);
    case 'debug':
      return log.debug(message);
    case 'info':
      return log.info(message);
    case 'warn':
      return log.warn(message);
    case 'error':
      return log.error(message);
  }
}

async function showMessage(kind: 'warning' | 'error', message: string, log: vscode.LogOutputChannel): Promise<void> {
  const show = kind === 'warning' ? vscode.window.showWarningMessage : vscode.window.showErrorMessage;
  const actions = kind === 'error' ? ['Restart Sidecar', 'Show Log'] : ['Show Log'];
  const choice = await show(message, ...actions);
  if (choice === 'Show Log') log.show(true);
  if (choice === 'Restart Sidecar') await vscode.commands.executeCommand('repokv.restartSidecar');
}
