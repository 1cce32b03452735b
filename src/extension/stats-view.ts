/**
 * The cache statistics panel (`RepoKV: Show Cache Statistics` → "Open details"): a webview in the editor area
 * whose charts are drawn by `media/stats.js` from the figures computed in stats-charts.ts. Same security model
 * as the chat: a strict CSP with a nonce, local resources only, and data reaching the page as text, never HTML.
 * One panel at a time: showing it again reveals and refreshes the existing one.
 */
import * as vscode from 'vscode';
import type { CacheStatistics } from '../sidecar/protocol';
import { makeNonce } from './chat/html';
import { statsPage } from './stats-charts';
import { statsHtml } from './stats-html';

export class StatsPanel implements vscode.Disposable {
  static readonly viewType = 'repokv.stats';
  private static current: StatsPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private latest: CacheStatistics | undefined;

  /** Opens (or reveals) the panel showing `stats`; its Refresh button calls `load`. */
  static show(extensionUri: vscode.Uri, load: () => Promise<CacheStatistics>, stats?: CacheStatistics): StatsPanel {
    const panel = StatsPanel.current ?? new StatsPanel(extensionUri, load);
    StatsPanel.current = panel;
    panel.panel.reveal();
    if (stats) panel.showStats(stats);
    else void panel.refresh();
    return panel;
  }

  private readonly panel: vscode.WebviewPanel;

  private constructor(
    extensionUri: vscode.Uri,
    private readonly load: () => Promise<CacheStatistics>,
  ) {
    const media = vscode.Uri.joinPath(extensionUri, 'media');
    this.panel = vscode.window.createWebviewPanel(
      StatsPanel.viewType,
      'RepoKV Cache Statistics',
      vscode.ViewColumn.Active,
      {
        enableScripts: true,
        localResourceRoots: [media],
      },
    );
    const webview = this.panel.webview;
    webview.html = statsHtml({
      cspSource: webview.cspSource,
      nonce: makeNonce(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'stats.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, 'stats.css')).toString(),
    });
    this.disposables.push(
      webview.onDidReceiveMessage((message: unknown) => {
        const type = (message as { type?: unknown } | null)?.type;
        // The page asks for data when it has loaded (or reloaded) and when its Refresh button is pressed.
        if (type === 'ready' && this.latest) this.showStats(this.latest);
        else if (type === 'ready' || type === 'refresh') void this.refresh();
      }),
      this.panel.onDidDispose(() => this.dispose()),
    );
  }

  dispose(): void {
    if (StatsPanel.current === this) StatsPanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }

  private async refresh(): Promise<void> {
    try {
      this.showStats(await this.load());
    } catch (err) {
      void this.panel.webview.postMessage({
        type: 'error',
        message: `No statistics: ${err instanceof Error ? err.message : String(err)}`,
      });
    }
  }

  private showStats(stats: CacheStatistics): void {
    this.latest = stats;
    void this.panel.webview.postMessage({ type: 'stats', page: statsPage(stats) });
  }
}
