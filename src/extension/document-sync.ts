/**
 * Keeps the sidecar's view of the files equal to the user's. Open documents are the truth while open (they may
 * hold unsaved edits): their buffer is sent on open, their edits as VS Code's content changes with the version,
 * and on close the file on disk takes over again. A save needs nothing of its own: the saved text already went
 * through as edits, and the watcher's echo of the save is ignored because the document is open. Files changed
 * outside the editor (a git checkout, a formatter, a generator) come from a file system watcher, coalesced per
 * path. Secret files are never sent at all.
 */
import * as vscode from 'vscode';
import type { NotificationType } from 'vscode-jsonrpc';
import * as P from '../sidecar/protocol';
import { isSecretPath } from '../syntax/secrets';
import { workspacePath } from './workspace-path';

/** Where the notifications go: the sidecar client, or a fake in tests. */
export interface DocumentSink {
  notify<T>(type: NotificationType<T>, params: T): void;
  readonly onDidStart: vscode.Event<void>;
  readonly onOutOfSync: vscode.Event<string>;
}

/** Files above this are not read for the watcher: the sidecar skips oversized files anyway. */
const MAX_WATCHED_BYTES = 4 * 1024 * 1024;
/** Bursts of disk events (a checkout rewrites many files, a save can fire twice) are merged over this window. */
const COALESCE_MS = 150;
/** Churn the repository index never wants, filtered before reading anything. */
const IGNORED = /(^|\/)(\.git|node_modules|\.repokv)(\/|$)/;

export class DocumentSync implements vscode.Disposable {
  /** Documents the sidecar holds as open, by their sidecar path. */
  private readonly open = new Map<string, vscode.TextDocument>();
  private readonly pendingDisk = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly sink: DocumentSink) {
    const w = vscode.workspace;
    const watcher = w.createFileSystemWatcher('**/*');
    this.disposables.push(
      w.onDidOpenTextDocument((d) => this.opened(d)),
      w.onDidChangeTextDocument((e) => this.changed(e)),
      w.onDidCloseTextDocument((d) => this.closed(d)),
      watcher,
      watcher.onDidCreate((uri) => this.diskChanged(uri)),
      watcher.onDidChange((uri) => this.diskChanged(uri)),
      watcher.onDidDelete((uri) => this.diskChanged(uri)),
      sink.onDidStart(() => this.resendAll()),
      sink.onOutOfSync((path) => this.resend(path)),
    );
    for (const document of w.textDocuments) this.opened(document);
  }

  dispose(): void {
    for (const timer of this.pendingDisk.values()) clearTimeout(timer);
    this.pendingDisk.clear();
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  private opened(document: vscode.TextDocument): void {
    const path = syncedPath(document.uri);
    if (path === undefined) return;
    this.open.set(path, document);
    this.sendOpen(path, document);
  }

  private changed(event: vscode.TextDocumentChangeEvent): void {
    // An event without changes only reports the dirty flag or a reload of the same text.
    if (event.contentChanges.length === 0) return;
    const path = syncedPath(event.document.uri);
    if (path === undefined || !this.open.has(path)) return;
    this.sink.notify(P.DidChangeNotification, {
      path,
      version: event.document.version,
      changes: event.contentChanges.map((c) => ({
        range: {
          start: { line: c.range.start.line, character: c.range.start.character },
          end: { line: c.range.end.line, character: c.range.end.character },
        },
        rangeOffset: c.rangeOffset,
        rangeLength: c.rangeLength,
        text: c.text,
      })),
    });
  }

  private closed(document: vscode.TextDocument): void {
    const path = syncedPath(document.uri);
    if (path === undefined || this.open.get(path) !== document) return;
    this.open.delete(path);
    this.sink.notify(P.DidCloseNotification, { path });
  }

  private diskChanged(uri: vscode.Uri): void {
    const path = syncedPath(uri);
    if (path === undefined || IGNORED.test(path)) return;
    clearTimeout(this.pendingDisk.get(path));
    this.pendingDisk.set(
      path,
      setTimeout(() => {
        this.pendingDisk.delete(path);
        void this.sendDisk(path, uri);
      }, COALESCE_MS),
    );
  }

  private async sendDisk(path: string, uri: vscode.Uri): Promise<void> {
    if (this.open.has(path)) return;
    this.sink.notify(P.FileChangedNotification, { path, text: await readText(uri) });
  }

  private resendAll(): void {
    for (const [path, document] of this.open) this.sendOpen(path, document);
  }

  private resend(path: string): void {
    const document = this.open.get(path);
    if (document && !document.isClosed) this.sendOpen(path, document);
  }

  private sendOpen(path: string, document: vscode.TextDocument): void {
    this.sink.notify(P.DidOpenNotification, { path, version: document.version, text: document.getText() });
  }
}

/** The sidecar path of a document to sync, or undefined for non-files and secrets. */
function syncedPath(uri: vscode.Uri): string | undefined {
  const path = workspacePath(uri);
  return path === undefined || isSecretPath(path) ? undefined : path;
}

/**
 * The file's text, or null when it is gone, a directory, too large or binary: for the cache all of these mean
 * "nothing to index here any more".
 */
async function readText(uri: vscode.Uri): Promise<string | null> {
  try {
    const stat = await vscode.workspace.fs.stat(uri);
    if ((stat.type & vscode.FileType.File) === 0 || stat.size > MAX_WATCHED_BYTES) return null;
    const bytes = await vscode.workspace.fs.readFile(uri);
    if (bytes.subarray(0, 8192).includes(0)) return null;
    return new TextDecoder('utf-8').decode(bytes);
  } catch {
    return null;
  }
}
