import type { ChatViewMessage } from './protocol';

/**
 * The chat history of one workspace. The extension keeps it in `workspaceState` (under `HISTORY_STATE_KEY`), which
 * outlives extension versions and can be edited by hand or corrupted, so loading validates every field and keeps
 * what is usable instead of trusting the shape. Bounded in messages and characters so the stored state, and the
 * context sent with a question, stay small.
 */

export const HISTORY_STATE_KEY = 'repokv.chat.history';
/** Bumped when the stored shape changes; an unknown version loads as an empty history. */
export const HISTORY_VERSION = 1;

export type ChatRole = 'user' | 'assistant';

export interface ChatMessage {
  readonly role: ChatRole;
  /** Markdown for the assistant, plain text for the user. */
  readonly text: string;
  /** When it was added, ms since the epoch. */
  readonly at: number;
}

export interface SerializedChatHistory {
  readonly version: number;
  readonly messages: readonly ChatMessage[];
}

export interface ChatHistoryOptions {
  /** Most messages kept; the oldest go first. Default 100. */
  readonly maxMessages?: number;
  /** Longest message kept, in characters; longer ones are cut. Default 50 000. */
  readonly maxMessageChars?: number;
}

export class ChatHistory {
  private readonly maxMessages: number;
  private readonly maxMessageChars: number;
  private list: ChatMessage[] = [];

  constructor(options: ChatHistoryOptions = {}) {
    this.maxMessages = Math.max(1, options.maxMessages ?? 100);
    this.maxMessageChars = Math.max(1, options.maxMessageChars ?? 50_000);
  }

  get messages(): readonly ChatMessage[] {
    return this.list;
  }

  add(role: ChatRole, text: string, at: number = Date.now()): ChatMessage {
    const message: ChatMessage = { role, text: text.slice(0, this.maxMessageChars), at };
    this.list.push(message);
    if (this.list.length > this.maxMessages) this.list.splice(0, this.list.length - this.maxMessages);
    return message;
  }

  clear(): void {
    this.list = [];
  }

  /** The newest messages whose texts fit in `maxChars` together, oldest first: the conversation for a prompt. */
  recent(maxChars: number): ChatMessage[] {
    const picked: ChatMessage[] = [];
    let used = 0;
    for (let i = this.list.length - 1; i >= 0; i--) {
      used += this.list[i]!.text.length;
      if (used > maxChars) break;
      picked.push(this.list[i]!);
    }
    return picked.reverse();
  }

  serialize(): SerializedChatHistory {
    return { version: HISTORY_VERSION, messages: this.list.map((m) => ({ ...m })) };
  }

  /** A history from stored data of any shape: invalid entries are skipped, bounds are applied. */
  static deserialize(data: unknown, options: ChatHistoryOptions = {}): ChatHistory {
    const history = new ChatHistory(options);
    if (typeof data !== 'object' || data === null) return history;
    const stored = data as Record<string, unknown>;
    if (stored['version'] !== HISTORY_VERSION || !Array.isArray(stored['messages'])) return history;
    for (const entry of stored['messages'] as unknown[]) {
      const message = validMessage(entry);
      if (message) history.add(message.role, message.text, message.at);
    }
    return history;
  }
}

function validMessage(entry: unknown): ChatMessage | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const m = entry as Record<string, unknown>;
  const role = m['role'];
  const text = m['text'];
  const at = m['at'];
  if ((role !== 'user' && role !== 'assistant') || typeof text !== 'string') return undefined;
  return { role, text, at: typeof at === 'number' && Number.isFinite(at) ? at : 0 };
}

/** The history as the webview shows it, assistant answers rendered by `render` (the safe markdown renderer). */
export function toViewMessages(
  messages: readonly ChatMessage[],
  render: (markdown: string) => string,
): ChatViewMessage[] {
  return messages.map((m) =>
    m.role === 'user' ? { role: 'user', text: m.text } : { role: 'assistant', html: render(m.text) },
  );
}
