/**
 * The statistics page's HTML: the same Content-Security-Policy as the chat (chat/html.ts: nothing by default,
 * styles from the extension, scripts only with this page's nonce), a refresh button, and empty containers that
 * `media/stats.js` fills with the figures it is sent.
 */
import { contentSecurityPolicy } from './chat/html';

export interface StatsHtmlOptions {
  readonly cspSource: string;
  readonly nonce: string;
  readonly scriptUri: string;
  readonly styleUri: string;
}

export function statsHtml(o: StatsHtmlOptions): string {
  const csp = contentSecurityPolicy(o.cspSource, o.nonce);
  return `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <meta http-equiv="Content-Security-Policy" content="${escapeAttribute(csp)}" />
    <meta name="viewport" content="width=device-width, initial-scale=1.0" />
    <link rel="stylesheet" href="${escapeAttribute(o.styleUri)}" />
    <title>RepoKV Cache Statistics</title>
  </head>
  <body>
    <header class="bar">
      <h1>RepoKV cache</h1>
      <button type="button" id="refresh">Refresh</button>
    </header>
    <p id="status" class="status">Loading…</p>
    <dl id="summary" class="summary"></dl>
    <div id="charts" class="charts"></div>
    <section id="skipped-section" hidden>
      <h2>Skipped files</h2>
      <table id="skipped"><thead><tr><th>File</th><th>Reason</th></tr></thead><tbody></tbody></table>
    </section>
    <script nonce="${escapeAttribute(o.nonce)}" src="${escapeAttribute(o.scriptUri)}"></script>
  </body>
</html>
`;
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
