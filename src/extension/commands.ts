/**
 * The `RepoKV:` commands (DESIGN section 7). Each one is a few lines over the sidecar client, the chat view or the
 * statistics panel; what the user sees when something fails is decided here.
 */
import * as vscode from 'vscode';
import type { CacheStatistics, ValidateModelResult } from '../sidecar/protocol';
import type { ChatViewProvider } from './chat-view';
import { formatBytes, formatCount, formatRatio } from './format';
import { StatsPanel } from './stats-view';

export interface CommandBackend {
  stats(): Promise<CacheStatistics>;
  rebuild(): Promise<void>;
  restart(): Promise<void>;
  validateModel(path: string): Promise<ValidateModelResult>;
}

export function registerCommands(
  extensionUri: vscode.Uri,
  backend: CommandBackend,
  chat: ChatViewProvider,
  onStatsChanged: () => void,
): vscode.Disposable[] {
  const command = (id: string, run: () => Promise<unknown>): vscode.Disposable =>
    vscode.commands.registerCommand(id, run);
  return [
    command('repokv.showCacheStats', () => showCacheStats(extensionUri, backend)),
    command('repokv.rebuildCache', async () => {
      try {
        await backend.rebuild();
        onStatsChanged();
      } catch (err) {
        void vscode.window.showErrorMessage(`RepoKV: the rebuild failed: ${messageOf(err)}`);
      }
    }),
    command('repokv.openChat', () => chat.reveal()),
    command('repokv.restartSidecar', () => backend.restart()),
    command('repokv.selectModel', () => selectModel(backend)),
  ];
}

/** The one-line summary of the statistics, as the information message shows it. */
export function statsSummary(s: CacheStatistics): string {
  return (
    `RepoKV: ${s.files} files, ${formatCount(s.tokens)} tokens (${formatCount(s.keptTokens)} kept) in ` +
    `${formatBytes(s.bytes)}, ${s.bytesPerToken.toFixed(1)} bytes/token, ${formatRatio(s.compressionRatio)} vs fp16, ` +
    `on ${s.provider}`
  );
}

async function showCacheStats(extensionUri: vscode.Uri, backend: CommandBackend): Promise<void> {
  let stats: CacheStatistics;
  try {
    stats = await backend.stats();
  } catch (err) {
    void vscode.window.showErrorMessage(`RepoKV: no statistics yet (${messageOf(err)})`);
    return;
  }
  const choice = await vscode.window.showInformationMessage(statsSummary(stats), 'Open details');
  if (choice === 'Open details') StatsPanel.show(extensionUri, () => backend.stats(), stats);
}

/**
 * Picks a checkpoint folder, has the sidecar check it, and only then stores it in `repokv.model.path` (which
 * re-initialises the sidecar with it). A folder that is not a usable checkpoint is refused with the loader's
 * message, which names the file and field at fault.
 */
async function selectModel(backend: CommandBackend): Promise<void> {
  const picked = await vscode.window.showOpenDialog({
    canSelectFolders: true,
    canSelectFiles: false,
    canSelectMany: false,
    openLabel: 'Use this model',
    title: 'RepoKV: select a Hugging Face checkpoint folder',
  });
  const folder = picked?.[0];
  if (!folder) return;
  let result: ValidateModelResult;
  try {
    result = await backend.validateModel(folder.fsPath);
  } catch (err) {
    void vscode.window.showErrorMessage(`RepoKV: could not check the model (${messageOf(err)})`);
    return;
  }
  if (!result.ok) {
    void vscode.window.showErrorMessage(`RepoKV: not a usable model: ${result.error}`);
    return;
  }
  await vscode.workspace
    .getConfiguration('repokv')
    .update('model.path', folder.fsPath, vscode.ConfigurationTarget.Global);
  void vscode.window.showInformationMessage(`RepoKV: using ${folder.fsPath} (${result.description})`);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
