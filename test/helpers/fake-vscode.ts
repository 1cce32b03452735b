/**
 * A fake `vscode` module for the extension's unit tests: the part of the API RepoKV uses, in plain TypeScript,
 * with its state in `fake` so tests can arrange it and look at what the code did. Use it with
 * `vi.mock('vscode', () => import('../helpers/fake-vscode'))` and call `fake.reset()` in `beforeEach`.
 * Behaviour follows VS Code's where RepoKV depends on it (zero-based positions, versions bumped per edit,
 * `contentChanges` with ranges in the old text); everything else is a recording stub.
 */
/* eslint-disable @typescript-eslint/no-explicit-any */

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
  isEqual(o: Position): boolean {
    return this.line === o.line && this.character === o.character;
  }
  isBefore(o: Position): boolean {
    return this.line < o.line || (this.line === o.line && this.character < o.character);
  }
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(a: Position | number, b: Position | number, c?: number, d?: number) {
    this.start = typeof a === 'number' ? new Position(a, b as number) : a;
    this.end = typeof a === 'number' ? new Position(c!, d!) : (b as Position);
  }
  get isEmpty(): boolean {
    return this.start.isEqual(this.end);
  }
}

export class Selection extends Range {
  constructor(
    readonly anchor: Position,
    readonly active: Position,
  ) {
    super(anchor.isBefore(active) ? anchor : active, anchor.isBefore(active) ? active : anchor);
  }
}

export class Disposable {
  constructor(private readonly callback: () => void) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((i) => i.dispose()));
  }
  dispose(): void {
    this.callback();
  }
}

export type Event<T> = (listener: (e: T) => unknown) => Disposable;

export class EventEmitter<T> {
  private listeners = new Set<(e: T) => unknown>();
  readonly event: Event<T> = (listener) => {
    this.listeners.add(listener);
    return new Disposable(() => this.listeners.delete(listener));
  };
  fire(value: T): void {
    for (const l of [...this.listeners]) l(value);
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export class CancellationTokenSource {
  private readonly emitter = new EventEmitter<void>();
  private cancelled = false;
  readonly token: { readonly isCancellationRequested: boolean; readonly onCancellationRequested: Event<void> };
  constructor() {
    const isCancelled = (): boolean => this.cancelled;
    this.token = {
      get isCancellationRequested() {
        return isCancelled();
      },
      onCancellationRequested: this.emitter.event,
    };
  }
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.emitter.fire();
  }
  dispose(): void {
    this.emitter.dispose();
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly authority: string,
    readonly path: string,
  ) {}
  static file(path: string): Uri {
    return new Uri('file', '', path.replace(/\\/g, '/'));
  }
  static parse(value: string): Uri {
    const m = /^([a-z][\w+.-]*):(?:\/\/([^/]*))?(.*)$/i.exec(value);
    if (!m) throw new Error(`not a URI: ${value}`);
    return new Uri(m[1]!, m[2] ?? '', m[3]!);
  }
  static joinPath(base: Uri, ...segments: string[]): Uri {
    return new Uri(base.scheme, base.authority, [base.path, ...segments].join('/').replace(/\/+/g, '/'));
  }
  get fsPath(): string {
    return this.path;
  }
  toString(): string {
    return this.scheme === 'file' || this.authority
      ? `${this.scheme}://${this.authority}${this.path}`
      : `${this.scheme}:${this.path}`;
  }
}

export enum InlineCompletionTriggerKind {
  Invoke = 0,
  Automatic = 1,
}
export enum StatusBarAlignment {
  Left = 1,
  Right = 2,
}
export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}
export enum ViewColumn {
  Active = -1,
}
export enum ConfigurationTarget {
  Global = 1,
}
export enum FileType {
  File = 1,
  Directory = 2,
}
export enum LanguageModelChatMessageRole {
  User = 1,
  Assistant = 2,
}

export class InlineCompletionItem {
  constructor(
    readonly insertText: string,
    readonly range?: Range,
  ) {}
}
export class ThemeColor {
  constructor(readonly id: string) {}
}
export class LanguageModelTextPart {
  constructor(readonly value: string) {}
}

interface Recorded {
  kind: 'info' | 'warning' | 'error';
  message: string;
  items: string[];
}

function createFakeState() {
  return {
    settings: new Map<string, unknown>(),
    messages: [] as Recorded[],
    /** The answer the next message gets (the button the user clicks). */
    messageAnswers: [] as (string | undefined)[],
    commands: new Map<string, (...args: any[]) => unknown>(),
    statusItems: [] as any[],
    clipboard: '',
    progress: [] as { options: any; reports: any[]; cancel: () => void; done: Promise<unknown> }[],
    workspaceFolders: [{ uri: Uri.file('/repo'), name: 'repo', index: 0 }] as any[],
    textDocuments: [] as { uri: Uri }[],
    visibleTextEditors: [] as any[],
    activeTextEditor: undefined as any,
    files: new Map<string, string>(),
    /** What the next open dialog returns. */
    openDialogAnswer: undefined as Uri[] | undefined,
    webviewViews: new Map<string, any>(),
    panels: [] as any[],
    onDidOpenTextDocument: new EventEmitter<any>(),
    onDidChangeTextDocument: new EventEmitter<any>(),
    onDidCloseTextDocument: new EventEmitter<any>(),
    onDidChangeConfiguration: new EventEmitter<any>(),
    watcher: {
      onDidCreate: new EventEmitter<Uri>(),
      onDidChange: new EventEmitter<Uri>(),
      onDidDelete: new EventEmitter<Uri>(),
    },
  };
}

export const fake = Object.assign(createFakeState(), {
  reset(): void {
    Object.assign(fake, createFakeState());
  },
});

function record(kind: Recorded['kind']) {
  return async (message: string, ...items: unknown[]): Promise<string | undefined> => {
    fake.messages.push({ kind, message, items: items.filter((i): i is string => typeof i === 'string') });
    return fake.messageAnswers.shift();
  };
}

export const window = {
  showInformationMessage: record('info'),
  showWarningMessage: record('warning'),
  showErrorMessage: record('error'),
  get activeTextEditor() {
    return fake.activeTextEditor;
  },
  get visibleTextEditors() {
    return fake.visibleTextEditors;
  },
  createStatusBarItem(id?: string) {
    const item = { id, text: '', tooltip: undefined, command: undefined, backgroundColor: undefined, visible: false };
    Object.assign(item, {
      show: () => (item.visible = true),
      hide: () => (item.visible = false),
      dispose: () => undefined,
    });
    fake.statusItems.push(item);
    return item;
  },
  createOutputChannel(name: string) {
    const lines: string[] = [];
    const at = (level: string) => (message: string) => lines.push(`[${level}] ${message}`);
    return {
      name,
      lines,
      trace: at('trace'),
      debug: at('debug'),
      info: at('info'),
      warn: at('warn'),
      error: at('error'),
      show: () => undefined,
      dispose: () => undefined,
    };
  },
  async showOpenDialog() {
    return fake.openDialogAnswer;
  },
  registerWebviewViewProvider(id: string, provider: unknown) {
    fake.webviewViews.set(id, provider);
    return new Disposable(() => fake.webviewViews.delete(id));
  },
  createWebviewPanel(viewType: string, title: string) {
    const received = new EventEmitter<unknown>();
    const disposed = new EventEmitter<void>();
    const webview = {
      html: '',
      cspSource: 'https://webview.test',
      posted: [] as unknown[],
      asWebviewUri: (u: Uri) => Uri.parse(`https://webview.test${u.path}`),
      postMessage: async (m: unknown) => void webview.posted.push(m),
      onDidReceiveMessage: received.event,
      /** Test side: a message from the page. */
      receive: (m: unknown) => received.fire(m),
    };
    const panel = {
      viewType,
      title,
      webview,
      reveal: () => undefined,
      onDidDispose: disposed.event,
      dispose: () => disposed.fire(),
    };
    fake.panels.push(panel);
    return panel;
  },
  withProgress(options: any, task: (progress: any, token: any) => Promise<unknown>) {
    const source = new CancellationTokenSource();
    const reports: any[] = [];
    const done = task({ report: (r: any) => reports.push(r) }, source.token);
    fake.progress.push({ options, reports, cancel: () => source.cancel(), done });
    return done;
  },
};

export const workspace = {
  get workspaceFolders() {
    return fake.workspaceFolders;
  },
  get textDocuments() {
    return fake.textDocuments;
  },
  getWorkspaceFolder(uri: Uri) {
    return fake.workspaceFolders.find((f) => uri.scheme === 'file' && uri.path.startsWith(`${f.uri.path}/`));
  },
  asRelativePath(uri: Uri, includeFolder?: boolean) {
    const folder = workspace.getWorkspaceFolder(uri);
    if (!folder) return uri.path;
    const rel = uri.path.slice(folder.uri.path.length + 1);
    return includeFolder ? `${folder.name}/${rel}` : rel;
  },
  getConfiguration(section?: string) {
    const key = (k: string) => (section ? `${section}.${k}` : k);
    return {
      get: <T>(k: string, d?: T): T | undefined => (fake.settings.has(key(k)) ? (fake.settings.get(key(k)) as T) : d),
      update: async (k: string, v: unknown) => void fake.settings.set(key(k), v),
    };
  },
  onDidOpenTextDocument: (l: any) => fake.onDidOpenTextDocument.event(l),
  onDidChangeTextDocument: (l: any) => fake.onDidChangeTextDocument.event(l),
  onDidCloseTextDocument: (l: any) => fake.onDidCloseTextDocument.event(l),
  onDidChangeConfiguration: (l: any) => fake.onDidChangeConfiguration.event(l),
  createFileSystemWatcher() {
    const w = fake.watcher;
    return {
      onDidCreate: w.onDidCreate.event,
      onDidChange: w.onDidChange.event,
      onDidDelete: w.onDidDelete.event,
      dispose: () => undefined,
    };
  },
  fs: {
    async stat(uri: Uri) {
      const text = fake.files.get(uri.path);
      if (text === undefined) throw new Error(`ENOENT ${uri.path}`);
      return { type: FileType.File, size: Buffer.byteLength(text) };
    },
    async readFile(uri: Uri) {
      const text = fake.files.get(uri.path);
      if (text === undefined) throw new Error(`ENOENT ${uri.path}`);
      return new Uint8Array(Buffer.from(text));
    },
    async createDirectory() {},
  },
};

export const commands = {
  registerCommand(id: string, run: (...args: any[]) => unknown) {
    fake.commands.set(id, run);
    return new Disposable(() => fake.commands.delete(id));
  },
  async executeCommand(id: string, ...args: unknown[]) {
    return fake.commands.get(id)?.(...args);
  },
};

export const languages = {
  registerInlineCompletionItemProvider: () => new Disposable(() => undefined),
};

export const env = {
  clipboard: {
    writeText: async (text: string) => void (fake.clipboard = text),
    readText: async () => fake.clipboard,
  },
};

/** No `registerLanguageModelChatProvider` by default, as in VS Code 1.100; tests add it to `lm`. */
export const lm: Record<string, unknown> = {};
