/**
 * The messages between the extension host and the chat webview (`postMessage` both ways). Markdown is rendered in
 * the extension host (`markdown.ts`), so the webview only ever receives finished, sanitised HTML and needs no
 * markdown library; it sanitises again before inserting it, as a second line of defence.
 *
 * A turn: the webview sends `ask`, the extension answers `start`, then `delta`s each carrying the whole answer so
 * far re-rendered (re-rendering is cheap at chat sizes, and an unfinished code fence or list can only be rendered
 * correctly from the full text), then `end`; or `error` at any point. `stop` asks the extension to cancel.
 */

/** Sent by the webview. */
export type WebviewToExtension =
  /** The webview has loaded and wants the history (sent again after it is re-created). */
  | { readonly type: 'ready' }
  | { readonly type: 'ask'; readonly text: string; readonly includeSelection: boolean; readonly includeFile: boolean }
  | { readonly type: 'stop' }
  | { readonly type: 'copy'; readonly code: string }
  | { readonly type: 'insert'; readonly code: string }
  /** Forget the conversation. */
  | { readonly type: 'clear' };

/** A message as the webview shows it: user text is plain text, assistant text arrives rendered. */
export type ChatViewMessage =
  { readonly role: 'user'; readonly text: string } | { readonly role: 'assistant'; readonly html: string };

/** Sent by the extension. */
export type ExtensionToWebview =
  | { readonly type: 'start'; readonly id: string }
  /** `html` is the full safe HTML of answer `id` so far, replacing what was shown. */
  | { readonly type: 'delta'; readonly id: string; readonly html: string }
  | { readonly type: 'end'; readonly id: string }
  /** Ends any answer in progress. */
  | { readonly type: 'error'; readonly message: string }
  /** Replaces everything shown (on `ready`, after `clear`). */
  | { readonly type: 'history'; readonly messages: readonly ChatViewMessage[] };

/** Longest question accepted from the webview, in characters. */
export const MAX_ASK_CHARS = 20_000;
/** Longest code block accepted for copy or insert, in characters. */
export const MAX_CODE_CHARS = 1_000_000;

/**
 * Validates a message from the webview. The webview displays model output, so it is treated as an untrusted peer:
 * anything malformed or oversized is refused (undefined) rather than half-used.
 */
export function parseWebviewMessage(data: unknown): WebviewToExtension | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const m = data as Record<string, unknown>;
  switch (m['type']) {
    case 'ready':
    case 'stop':
    case 'clear':
      return { type: m['type'] };
    case 'ask': {
      const text = m['text'];
      if (typeof text !== 'string' || text.trim() === '' || text.length > MAX_ASK_CHARS) return undefined;
      return {
        type: 'ask',
        text,
        includeSelection: m['includeSelection'] === true,
        includeFile: m['includeFile'] === true,
      };
    }
    case 'copy':
    case 'insert': {
      const code = m['code'];
      if (typeof code !== 'string' || code.length > MAX_CODE_CHARS) return undefined;
      return { type: m['type'], code };
    }
    default:
      return undefined;
  }
}
