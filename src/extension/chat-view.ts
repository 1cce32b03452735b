/**
 * The chat sidebar: a webview view in RepoKV's own activity-bar container. This class is only the glue between
 * the webview and the rest: it builds the page (nonce, `webview.cspSource`, media through `asWebviewUri`),
 * validates what the page sends (`parseWebviewMessage`: the page shows model output and is not trusted), and
 * performs the page's requests that need the editor: the optional selection or file as context, copy to the
 * clipboard, insert at the cursor. The conversation itself lives in ChatSession.
 */
import * as vscode from 'vscode';
import { isSecretPath } from '../syntax/secrets';
import { chatHtml, makeNonce } from './chat/html';
import { parseWebviewMessage, type ExtensionToWebview, type WebviewToExtension } from './chat/protocol';
import { ChatSession, type Attachment, type ChatBackend } from './chat-session';
import { workspacePath } from './workspace-path';

/** A whole file attached as context is cut here: the prompt has a budget, and the repository is cached anyway. */
const MAX_ATTACHMENT_CHARS = 24_000;

export class ChatViewProvider implements vscode.WebviewViewProvider, vscode.Disposable {
  static readonly viewType = 'repokv.chat';
  private view: vscode.WebviewView | undefined;
  readonly session: ChatSession;

  constructor(
    private readonly extensionUri: vscode.Uri,
    state: vscode.Memento,
    backend: ChatBackend,
  ) {
    this.session = new ChatSession(backend, state, (message) => this.post(message));
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const media = vscode.Uri.joinPath(this.extensionUri, 'media');
    view.webview.options = { enableScripts: true, localResourceRoots: [media] };
    view.webview.html = chatHtml({
      cspSource: view.webview.cspSource,
      nonce: makeNonce(),
      scriptUri: view.webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.js')).toString(),
      styleUri: view.webview.asWebviewUri(vscode.Uri.joinPath(media, 'chat.css')).toString(),
    });
    view.webview.onDidReceiveMessage((data: unknown) => {
      const message = parseWebviewMessage(data);
      if (message) void this.handle(message);
    });
    view.onDidDispose(() => {
      if (this.view === view) this.view = undefined;
    });
  }

  /** Shows the view (the `<id>.focus` command VS Code generates for every view). */
  async reveal(): Promise<void> {
    await vscode.commands.executeCommand(`${ChatViewProvider.viewType}.focus`);
  }

  dispose(): void {
    this.session.dispose();
  }

  /** What the page asked for; exposed for tests, which have no webview to send it from. */
  async handle(message: WebviewToExtension): Promise<void> {
    switch (message.type) {
      case 'ready':
        this.post({ type: 'history', messages: this.session.viewMessages() });
        return;
      case 'ask':
        return this.session.ask(message.text, attachments(message.includeSelection, message.includeFile));
      case 'stop':
        return this.session.stop();
      case 'clear':
        return this.session.clear();
      case 'copy':
        await vscode.env.clipboard.writeText(message.code);
        return;
      case 'insert':
        return insertAtCursor(message.code);
    }
  }

  private post(message: ExtensionToWebview): void {
    void this.view?.webview.postMessage(message);
  }
}

/** The context the user ticked, from the last active editor (which keeps its selection while the chat has focus). */
export function attachments(includeSelection: boolean, includeFile: boolean): Attachment[] {
  const editor = vscode.window.activeTextEditor;
  if (!editor || (!includeSelection && !includeFile)) return [];
  const path = workspacePath(editor.document.uri) ?? editor.document.uri.toString();
  // The model must not read a key file any more than complete one.
  if (isSecretPath(path)) return [];
  const out: Attachment[] = [];
  if (includeSelection && !editor.selection.isEmpty) {
    out.push({ path: `${path} (selection)`, text: editor.document.getText(editor.selection) });
  }
  if (includeFile) out.push({ path, text: editor.document.getText().slice(0, MAX_ATTACHMENT_CHARS) });
  return out;
}

async function insertAtCursor(code: string): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showWarningMessage('RepoKV: open an editor to insert the code into.');
    return;
  }
  // Replaces the selection when there is one, as pasting would; every cursor gets the code.
  await editor.edit((edit) => {
    for (const selection of editor.selections) edit.replace(selection, code);
  });
}
