/**
 * The path by which the sidecar knows a document: workspace-relative with forward slashes (prefixed with the
 * folder's name in a multi-root workspace, VS Code's own convention), the absolute path for a file outside the
 * workspace, `untitled:NAME` for an unsaved new buffer. Other schemes (diff views, output panes, settings, git
 * revisions) are not files the user is writing: no completions there, and nothing is synced.
 */
import * as vscode from 'vscode';

export function workspacePath(uri: vscode.Uri): string | undefined {
  if (uri.scheme === 'untitled') return `untitled:${uri.path}`;
  if (uri.scheme !== 'file') return undefined;
  if (!vscode.workspace.getWorkspaceFolder(uri)) return uri.fsPath.replace(/\\/g, '/');
  const multiRoot = (vscode.workspace.workspaceFolders?.length ?? 0) > 1;
  return vscode.workspace.asRelativePath(uri, multiRoot).replace(/\\/g, '/');
}
