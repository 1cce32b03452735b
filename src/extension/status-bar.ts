/**
 * The status bar item: indexing progress while the sidecar prefills, then what the cache holds (tokens, bytes,
 * compression ratio against fp16, execution provider). A click opens the statistics. The text is computed by a
 * pure function of the sidecar's state, so that it can be tested without a status bar.
 */
import * as vscode from 'vscode';
import type { CacheStatistics, IndexProgress } from '../sidecar/protocol';
import { formatBytes, formatCount, formatPercent, formatRatio } from './format';
import type { SidecarState } from './sidecar-client';

export interface StatusSource {
  readonly state: SidecarState;
  readonly lastError: string | undefined;
  readonly onDidChangeState: vscode.Event<SidecarState>;
  readonly onProgress: vscode.Event<IndexProgress>;
  stats(): Promise<CacheStatistics>;
}

export interface StatusView {
  readonly text: string;
  readonly tooltip: string;
  readonly error: boolean;
}

export function statusView(
  state: SidecarState,
  progress: IndexProgress | undefined,
  stats: CacheStatistics | undefined,
  lastError?: string,
): StatusView {
  const busy = progress !== undefined && progress.phase !== 'idle' && (state === 'indexing' || state === 'ready');
  if (busy) {
    if (progress.phase === 'scanning' || progress.totalTokens === 0) {
      return { text: '$(sync~spin) RepoKV scanning', tooltip: 'RepoKV: scanning the workspace', error: false };
    }
    const eta = progress.etaSeconds === null ? '' : `, about ${Math.ceil(progress.etaSeconds)} s left`;
    return {
      text: `$(sync~spin) RepoKV ${formatPercent(progress.doneTokens / progress.totalTokens)}`,
      tooltip:
        `RepoKV: prefilling ${formatCount(progress.doneTokens)} of ${formatCount(progress.totalTokens)} tokens ` +
        `(${progress.doneSegments} of ${progress.totalSegments} segments${eta})`,
      error: false,
    };
  }
  switch (state) {
    case 'stopped':
      return { text: '$(circle-slash) RepoKV', tooltip: 'RepoKV: the sidecar is stopped', error: false };
    case 'starting':
      return { text: '$(loading~spin) RepoKV', tooltip: 'RepoKV: starting the sidecar', error: false };
    case 'restarting':
      return {
        text: '$(debug-restart) RepoKV restarting',
        tooltip: 'RepoKV: the sidecar stopped; restarting it',
        error: false,
      };
    case 'failed':
      return { text: '$(error) RepoKV', tooltip: `RepoKV: ${lastError ?? 'the sidecar failed'}`, error: true };
    case 'indexing':
      return { text: '$(sync~spin) RepoKV', tooltip: 'RepoKV: indexing the workspace', error: false };
    case 'ready':
      return stats ? readyView(stats) : { text: '$(database) RepoKV', tooltip: 'RepoKV: ready', error: false };
  }
}

function readyView(s: CacheStatistics): StatusView {
  const text = `$(database) ${formatCount(s.tokens)} tok · ${formatBytes(s.bytes)} · ${formatRatio(s.compressionRatio)} · ${s.provider}`;
  const tooltip = [
    `RepoKV: ${formatCount(s.tokens)} tokens cached from ${s.files} files (${formatCount(s.keptTokens)} kept after eviction)`,
    `${formatBytes(s.bytes)}, ${s.bytesPerToken.toFixed(1)} bytes per token (fp16: ${s.fp16BytesPerToken.toFixed(0)})`,
    `${formatRatio(s.compressionRatio)} smaller than fp16, on ${s.provider}`,
    'Click for the cache statistics',
  ].join('\n');
  return { text, tooltip, error: false };
}

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private progress: IndexProgress | undefined;
  private stats: CacheStatistics | undefined;

  constructor(private readonly source: StatusSource) {
    this.item = vscode.window.createStatusBarItem('repokv.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'RepoKV';
    this.item.command = 'repokv.showCacheStats';
    this.disposables.push(
      this.item,
      source.onDidChangeState((state) => {
        if (state !== 'ready') this.progress = undefined;
        if (state === 'ready') void this.refresh();
        this.render();
      }),
      source.onProgress((progress) => {
        const finished = this.progress?.phase !== 'idle' && progress.phase === 'idle';
        this.progress = progress;
        if (finished) void this.refresh();
        this.render();
      }),
    );
    this.render();
    this.item.show();
  }

  /** Fetches the statistics again (after indexing, a rebuild, or on demand). */
  async refresh(): Promise<void> {
    try {
      this.stats = await this.source.stats();
    } catch {
      // No statistics (the sidecar is restarting, say): keep showing the last ones.
    }
    this.render();
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  private render(): void {
    const view = statusView(this.source.state, this.progress, this.stats, this.source.lastError);
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor = view.error ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }
}
