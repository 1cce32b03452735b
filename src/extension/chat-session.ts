/**
 * One workspace's conversation: the history (kept in `workspaceState`), the turn in progress and its
 * cancellation, and the stream of `start` / `delta` / `end` / `error` messages to the webview (the protocol in
 * chat/protocol.ts). Deltas carry the whole answer so far rendered to safe HTML; rendering is throttled, since a
 * model emits tokens faster than anyone reads and each render is of the full text.
 */
import * as vscode from 'vscode';
import type { ChatRequest, ChatResult } from '../sidecar/protocol';
import { ChatHistory, HISTORY_STATE_KEY, toViewMessages } from './chat/history';
import { renderMarkdown } from './chat/markdown';
import type { ChatViewMessage, ExtensionToWebview } from './chat/protocol';

export interface ChatBackend {
  chat(
    request: ChatRequest,
    onDelta: (delta: string) => void,
    token: vscode.CancellationToken,
  ): Promise<ChatResult | undefined>;
}

export type Attachment = NonNullable<ChatRequest['attachments']>[number];

export interface ChatSessionOptions {
  /** Characters of earlier conversation sent with a question. Default 12 000. */
  readonly contextChars?: number;
  /** Shortest interval between two renders of a streaming answer. Default 50 ms. */
  readonly renderIntervalMs?: number;
}

export class ChatSession implements vscode.Disposable {
  private readonly history: ChatHistory;
  private turn: { id: string; source: vscode.CancellationTokenSource } | undefined;
  private nextId = 0;

  constructor(
    private readonly backend: ChatBackend,
    private readonly state: vscode.Memento,
    /** Where messages for the webview go; a hidden view drops them and asks for the history when shown again. */
    private readonly post: (message: ExtensionToWebview) => void,
    private readonly options: ChatSessionOptions = {},
  ) {
    this.history = ChatHistory.deserialize(state.get<unknown>(HISTORY_STATE_KEY));
  }

  get busy(): boolean {
    return this.turn !== undefined;
  }

  viewMessages(): ChatViewMessage[] {
    return toViewMessages(this.history.messages, renderMarkdown);
  }

  async ask(question: string, attachments: Attachment[]): Promise<void> {
    if (this.turn) {
      this.post({ type: 'error', message: 'An answer is still being written: stop it first.' });
      return;
    }
    const id = `answer-${++this.nextId}`;
    const source = new vscode.CancellationTokenSource();
    this.turn = { id, source };
    const context = this.history.recent(this.options.contextChars ?? 12_000);
    const request: ChatRequest = {
      messages: [...context.map((m) => ({ role: m.role, content: m.text })), { role: 'user', content: question }],
      attachments: attachments.length > 0 ? attachments : undefined,
    };
    this.history.add('user', question);
    await this.save();
    this.post({ type: 'start', id });

    let answer = '';
    let timer: ReturnType<typeof setTimeout> | undefined;
    const render = (): void => {
      timer = undefined;
      this.post({ type: 'delta', id, html: renderMarkdown(answer) });
    };
    try {
      const result = await this.backend.chat(
        request,
        (delta) => {
          answer += delta;
          timer ??= setTimeout(render, this.options.renderIntervalMs ?? 50);
        },
        source.token,
      );
      // The final result is authoritative (a delta could have been dropped); a cancelled turn keeps what came.
      if (result) answer = result.text;
      clearTimeout(timer);
      render();
      // A conversation cleared while this answer was written does not get it back.
      if (this.turn?.id === id && answer.trim() !== '') this.history.add('assistant', answer);
      await this.save();
      this.post({ type: 'end', id });
    } catch (err) {
      clearTimeout(timer);
      this.post({
        type: 'error',
        message: `RepoKV could not answer: ${err instanceof Error ? err.message : String(err)}`,
      });
    } finally {
      source.dispose();
      if (this.turn?.id === id) this.turn = undefined;
    }
  }

  /** Stops the answer being written (the sidecar's decode loop stops within a step). */
  stop(): void {
    this.turn?.source.cancel();
  }

  async clear(): Promise<void> {
    this.stop();
    this.turn = undefined;
    this.history.clear();
    await this.save();
    this.post({ type: 'history', messages: [] });
  }

  dispose(): void {
    this.stop();
  }

  private async save(): Promise<void> {
    await this.state.update(HISTORY_STATE_KEY, this.history.serialize());
  }
}
