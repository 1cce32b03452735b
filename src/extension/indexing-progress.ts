/**
 * The indexing notification (`window.withProgress`), shown while the sidecar indexes (first start, a settings
 * change, a rebuild). Cancelling it stops the indexing in the sidecar; what was indexed so far stays in use, and
 * the rest is prefilled on a later start (the on-disk cache keeps every finished segment).
 */
import * as vscode from 'vscode';
import type { IndexProgress } from '../sidecar/protocol';
import { formatCount } from './format';
import type { SidecarState } from './sidecar-client';

export interface IndexingSource {
  readonly state: SidecarState;
  readonly onDidChangeState: vscode.Event<SidecarState>;
  readonly onProgress: vscode.Event<IndexProgress>;
  cancelIndexing(): void;
}

interface Run {
  progress: vscode.Progress<{ message?: string; increment?: number }> | undefined;
  /** Percent reported so far (withProgress takes increments). */
  reported: number;
  last: IndexProgress | undefined;
  finish: () => void;
}

export class IndexingProgress implements vscode.Disposable {
  private run: Run | undefined;
  private readonly disposables: vscode.Disposable[];

  constructor(private readonly source: IndexingSource) {
    this.disposables = [
      source.onDidChangeState((state) => (state === 'indexing' ? this.begin() : this.end())),
      source.onProgress((p) => this.update(p)),
    ];
    if (source.state === 'indexing') this.begin();
  }

  dispose(): void {
    this.end();
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  private begin(): void {
    if (this.run) return;
    let finish!: () => void;
    const done = new Promise<void>((resolve) => (finish = resolve));
    const run: Run = { progress: undefined, reported: 0, last: undefined, finish };
    this.run = run;
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'RepoKV: indexing', cancellable: true },
      (progress, token) => {
        // The task may start after progress already arrived: show the latest at once.
        run.progress = progress;
        if (run.last) this.report(run, run.last);
        token.onCancellationRequested(() => {
          if (this.run === run) this.source.cancelIndexing();
        });
        return done;
      },
    );
  }

  private update(p: IndexProgress): void {
    const run = this.run;
    if (!run) return;
    run.last = p;
    this.report(run, p);
  }

  private report(run: Run, p: IndexProgress): void {
    if (!run.progress) return;
    if (p.phase === 'scanning' || p.totalTokens === 0) {
      run.progress.report({ message: 'scanning the workspace' });
      return;
    }
    const percent = Math.min(100, (100 * p.doneTokens) / p.totalTokens);
    const eta = p.etaSeconds === null ? '' : `, about ${Math.ceil(p.etaSeconds)} s left`;
    run.progress.report({
      message: `${formatCount(p.doneTokens)} of ${formatCount(p.totalTokens)} tokens${eta}`,
      increment: Math.max(0, percent - run.reported),
    });
    run.reported = Math.max(run.reported, percent);
  }

  private end(): void {
    this.run?.finish();
    this.run = undefined;
  }
}
