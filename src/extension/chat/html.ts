import { randomBytes } from 'node:crypto';

/**
 * The chat webview's HTML. Everything executable is pinned down by the Content-Security-Policy: no source is
 * allowed by default, styles and fonts only from the extension's own resources (`cspSource`), and scripts only when
 * they carry this page's nonce, so no inline handler, injected `<script>` or `eval` can run even if the sanitisers
 * let something through. Images are allowed from https and data: so that a later feature can show them; the
 * markdown renderer currently emits none.
 */

export interface ChatHtmlOptions {
  /** `webview.cspSource`. */
  readonly cspSource: string;
  /** From `makeNonce()`, fresh for every HTML build. */
  readonly nonce: string;
  /** `webview.asWebviewUri` of `media/chat.js`. */
  readonly scriptUri: string;
  /** `webview.asWebviewUri` of `media/chat.css`. */
  readonly styleUri: string;
  /** `webview.asWebviewUri` of the codicons stylesheet, when available; buttons fall back to their labels. */
  readonly codiconsUri?: string;
}

/** A nonce for the CSP: 144 random bits, base64 (a CSP nonce must be unguessable and unique per page load). */
export function makeNonce(): string {
  return randomBytes(18).toString('base64');
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return (
    `default-src 'none'; style-src ${cspSource}; script-src 'nonce-${nonce}'; ` +
    `img-src ${cspSource} https: data:; font-src ${cspSource};`
  );
}

export function chatHtml(options: ChatHtmlOptions): string {
  const { cspSource, nonce } = options;
  // These go into a CSP: a `;` or quote would add directives of its own, so refuse rather than escape.
  // VS Code's value is a list of sources and may include the 'self' keyword (1.139: "'self' https://*.vscode-cdn.net").
  if (!/^(?:'self'|[^\s;,'"<>]+)(?: (?:'self'|[^\s;,'"<>]+))*$/.test(cspSource))
    throw new Error(`chatHtml: unusable cspSource`);
  if (!/^[A-Za-z0-9+/_-]{16,}={0,2}$/.test(nonce)) throw new Error('chatHtml: the nonce must be base64, 16+ chars');
  const attr = escapeAttribute;
  const codicons = options.codiconsUri ? `\n    <link rel="stylesheet" href="${attr(options.codiconsUri)}" />` : '';
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(cspSource, nonce))}" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />${codicons}
    <link rel="stylesheet" href="${attr(options.styleUri)}" />
    <title>RepoKV Chat</title>
  </head>
  <body>
    <main id="messages" class="messages" aria-live="polite" aria-label="Conversation"></main>
    <p id="empty" class="empty">Ask about this repository. The selection or the current file can go along as context.</p>
    <form id="composer" class="composer">
      <textarea id="input" rows="3" placeholder="Ask RepoKV (Enter to send, Shift+Enter for a new line)" aria-label="Question"></textarea>
      <div class="composer-bar">
        <label><input type="checkbox" id="include-selection" /> Selection</label>
        <label><input type="checkbox" id="include-file" /> Current file</label>
        <span class="spacer"></span>
        <button type="button" id="clear" class="secondary" title="Clear the conversation">Clear</button>
        <button type="button" id="stop" class="secondary" title="Stop the answer" hidden>Stop</button>
        <button type="submit" id="send" title="Send (Enter)">Send</button>
      </div>
    </form>
    <script nonce="${attr(nonce)}" src="${attr(options.scriptUri)}"></script>
  </body>
</html>
`;
}

function escapeAttribute(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');
}
