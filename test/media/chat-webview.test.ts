import { readFileSync } from 'node:fs';
import path from 'node:path';
import { JSDOM } from 'jsdom';
import { describe, expect, it } from 'vitest';
import { chatHtml, contentSecurityPolicy, makeNonce } from '../../src/extension/chat/html';
import { renderMarkdown } from '../../src/extension/chat/markdown';
import type { ExtensionToWebview } from '../../src/extension/chat/protocol';
import { HOSTILE_MARKDOWN } from '../extension/hostile';

const CHAT_JS = readFileSync(path.join(__dirname, '..', '..', 'media', 'chat.js'), 'utf8');
const CSP_SOURCE = 'https://file+.vscode-resource.vscode-cdn.net';

/** Raw HTML as an attacker would write it if it reached the webview without markdown.ts. */
const HOSTILE_HTML: readonly string[] = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '<a href="javascript:alert(1)">x</a>',
  '<a href=" JaVaScRiPt:alert(1)">x</a>',
  '<a href="data:text/html,<script>alert(1)</script>">x</a>',
  '<a href="vscode:extension/evil">x</a>',
  '<iframe src="https://evil.example"></iframe>',
  '<svg onload=alert(1)><a href="javascript:alert(1)"><text>x</text></a></svg>',
  '<math><mi xlink:href="javascript:alert(1)">x</mi></math>',
  '<div onclick="alert(1)" style="background:url(javascript:alert(1))">x</div>',
  '<button data-action="copy" onclick="alert(1)" formaction="javascript:alert(1)" type="submit">b</button>',
  '<form action="javascript:alert(1)"><input autofocus onfocus=alert(1)></form>',
  '<details open ontoggle=alert(1)><summary>s</summary></details>',
  '<object data="javascript:alert(1)"></object><embed src="javascript:alert(1)">',
  '<style>body{display:none}</style><link rel=stylesheet href="https://evil.example/x.css">',
  '<template><script>alert(1)</script></template><noscript><img src=x onerror=alert(1)></noscript>',
  '<p>ok <b>bold</b> <a href="https://example.com" onmouseover="alert(1)">link</a></p>',
  '<scr<script>ipt>alert(1)</scr</script>ipt>',
  '<!-- <img src=x onerror=alert(1)> --><base href="javascript:alert(1)//">',
];

interface Webview {
  readonly dom: JSDOM;
  readonly doc: Document;
  readonly posted: unknown[];
  send(message: ExtensionToWebview | Record<string, unknown>): void;
  byId<T extends HTMLElement = HTMLElement>(id: string): T;
}

function openWebview(savedState?: unknown): Webview {
  const html = chatHtml({
    cspSource: CSP_SOURCE,
    nonce: makeNonce(),
    scriptUri: `${CSP_SOURCE}/media/chat.js`,
    styleUri: `${CSP_SOURCE}/media/chat.css`,
  });
  // Scripts of the page do not run (`outside-only`); chat.js is evaluated explicitly, as the webview would load it.
  const dom = new JSDOM(html, { runScripts: 'outside-only', url: 'https://webview.test/' });
  const posted: unknown[] = [];
  let state = savedState;
  Object.assign(dom.window, {
    acquireVsCodeApi: () => ({
      postMessage: (m: unknown) => posted.push(m),
      getState: () => state,
      setState: (s: unknown) => (state = s),
    }),
  });
  dom.window.eval(CHAT_JS);
  const doc = dom.window.document;
  return {
    dom,
    doc,
    posted,
    send: (data) => dom.window.dispatchEvent(new dom.window.MessageEvent('message', { data })),
    byId: <T extends HTMLElement>(id: string) => doc.getElementById(id) as T,
  };
}

/** Everything in `root` that could run script or navigate somewhere unsafe. */
function dangers(root: Element): string[] {
  const found: string[] = [];
  for (const el of Array.from(root.querySelectorAll('*'))) {
    const tag = el.localName;
    if (!['a', 'b', 'button', 'code', 'div', 'em', 'li', 'p', 'pre', 'span', 'strong', 'ul', 'ol'].includes(tag)) {
      if (!['table', 'thead', 'tbody', 'tr', 'th', 'td', 'blockquote', 'br', 'hr', 'del', 's', 'i'].includes(tag))
        found.push(`<${tag}>`);
    }
    for (const attr of Array.from(el.attributes)) {
      if (attr.name.startsWith('on')) found.push(`${tag}[${attr.name}]`);
      if (['style', 'src', 'action', 'formaction', 'data', 'xlink:href'].includes(attr.name))
        found.push(`${tag}[${attr.name}]`);
      if (attr.name === 'href' && !/^(https?:\/\/|mailto:)/i.test(attr.value)) found.push(`${tag}[href=${attr.value}]`);
      if (tag === 'button' && attr.name === 'type' && attr.value !== 'button') found.push('button[type=submit]');
    }
  }
  return found;
}

describe('chat webview HTML', () => {
  it('carries a strict CSP meta and only the nonce-bearing external script', () => {
    const nonce = makeNonce();
    const html = chatHtml({
      cspSource: CSP_SOURCE,
      nonce,
      scriptUri: 'https://r/chat.js',
      styleUri: 'https://r/chat.css',
    });
    const doc = new JSDOM(html).window.document;
    const metas = doc.querySelectorAll('meta[http-equiv="Content-Security-Policy"]');
    expect(metas).toHaveLength(1);
    const csp = metas[0]!.getAttribute('content')!;
    expect(csp).toBe(
      `default-src 'none'; style-src ${CSP_SOURCE}; script-src 'nonce-${nonce}'; img-src ${CSP_SOURCE} https: data:; font-src ${CSP_SOURCE};`,
    );
    expect(csp).toBe(contentSecurityPolicy(CSP_SOURCE, nonce));
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|\*(?!\.)/);
    // The CSP must come before anything it governs.
    expect(doc.head.firstElementChild!.nextElementSibling).toBe(metas[0]);
    const scripts = Array.from(doc.querySelectorAll('script'));
    expect(scripts).toHaveLength(1);
    expect(scripts[0]!.getAttribute('nonce')).toBe(nonce);
    expect(scripts[0]!.getAttribute('src')).toBe('https://r/chat.js');
    expect(scripts[0]!.textContent).toBe('');
    const handlers = Array.from(doc.querySelectorAll('*')).flatMap((el) =>
      Array.from(el.attributes).filter((a) => a.name.startsWith('on')),
    );
    expect(handlers).toEqual([]);
    expect(html).not.toMatch(/\son\w+=/i);
  });

  it('adds the codicons stylesheet only when given', () => {
    const base = {
      cspSource: CSP_SOURCE,
      nonce: makeNonce(),
      scriptUri: 'https://r/c.js',
      styleUri: 'https://r/c.css',
    };
    expect(chatHtml(base)).not.toContain('codicon');
    expect(chatHtml({ ...base, codiconsUri: 'https://r/codicon.css' })).toContain('href="https://r/codicon.css"');
  });

  it('escapes resource URIs and refuses a CSP source or nonce that could add directives', () => {
    const base = {
      cspSource: CSP_SOURCE,
      nonce: makeNonce(),
      scriptUri: 'https://r/c.js',
      styleUri: 'https://r/c.css',
    };
    expect(chatHtml({ ...base, styleUri: 'https://r/"><script>x</script>' })).not.toContain('"><script>x');
    expect(() => chatHtml({ ...base, cspSource: "https://a; script-src 'unsafe-inline'" })).toThrow();
    expect(() => chatHtml({ ...base, nonce: "abc' 'unsafe-inline" })).toThrow();
    expect(() => chatHtml({ ...base, nonce: 'short' })).toThrow();
    expect(() => chatHtml({ ...base, cspSource: "'unsafe-inline' https://a" })).toThrow();
  });

  it("accepts VS Code 1.139's real cspSource, which lists 'self'", () => {
    const cspSource = "'self' https://*.vscode-cdn.net";
    const html = chatHtml({ cspSource, nonce: makeNonce(), scriptUri: 'https://r/c.js', styleUri: 'https://r/c.css' });
    expect(html).toMatch(/style-src (&#39;|&#x27;|')self(&#39;|&#x27;|') https:\/\/\*\.vscode-cdn\.net;/);
  });

  it('makes unguessable, distinct nonces', () => {
    const nonces = new Set(Array.from({ length: 100 }, makeNonce));
    expect(nonces.size).toBe(100);
    for (const n of nonces) expect(n).toMatch(/^[A-Za-z0-9+/]{24}$/);
  });
});

describe('chat webview sanitiser', () => {
  it.each(HOSTILE_HTML.map((h) => [h]))('renders a malicious delta inert: %s', (html) => {
    const w = openWebview();
    w.send({ type: 'start', id: 'a1' });
    w.send({ type: 'delta', id: 'a1', html });
    const messages = w.byId('messages');
    expect(dangers(messages)).toEqual([]);
    expect(messages.querySelectorAll('script, iframe, img, svg, object, embed, form, style, link, base')).toHaveLength(
      0,
    );
  });

  it.each(HOSTILE_MARKDOWN.map((m) => [m]))('renders hostile model output inert end to end: %j', (markdown) => {
    const w = openWebview();
    w.send({ type: 'start', id: 'a1' });
    w.send({ type: 'delta', id: 'a1', html: renderMarkdown(markdown) });
    expect(dangers(w.byId('messages'))).toEqual([]);
  });

  it('keeps the harmless parts: text, safe links, code blocks with their buttons', () => {
    const w = openWebview();
    w.send({ type: 'start', id: 'a1' });
    w.send({
      type: 'delta',
      id: 'a1',
      html: renderMarkdown('Use **this** [doc](https://example.com):\n\n```ts\nconst x = 1;\n```'),
    });
    const answer = w.doc.querySelector('.message.assistant .content')!;
    expect(answer.querySelector('strong')!.textContent).toBe('this');
    expect(answer.querySelector('a')!.getAttribute('href')).toBe('https://example.com');
    expect(answer.querySelector('a')!.getAttribute('rel')).toBe('noopener noreferrer');
    expect(
      Array.from(answer.querySelectorAll('button[data-action]')).map((b) => b.getAttribute('data-action')),
    ).toEqual(['copy', 'insert']);
    expect(answer.querySelector('.code-block pre code')!.textContent).toBe('const x = 1;\n');
  });

  it('sanitises assistant messages from history and shows user messages as text', () => {
    const w = openWebview();
    w.send({
      type: 'history',
      messages: [
        { role: 'user', text: '<img src=x onerror=alert(1)> why?' },
        { role: 'assistant', html: '<p>because</p><script>alert(1)</script><img src=x onerror=alert(1)>' },
      ],
    });
    const messages = w.byId('messages');
    expect(dangers(messages)).toEqual([]);
    expect(messages.querySelector('.message.user')!.textContent).toBe('<img src=x onerror=alert(1)> why?');
    expect(messages.querySelector('.message.assistant')!.textContent).toBe('because');
    expect(w.byId('empty').hidden).toBe(true);
  });

  it('shows errors as text', () => {
    const w = openWebview();
    w.send({ type: 'error', message: '<img src=x onerror=alert(1)>sidecar died' });
    const error = w.doc.querySelector('.message.error')!;
    expect(error.textContent).toBe('<img src=x onerror=alert(1)>sidecar died');
    expect(error.querySelector('img')).toBeNull();
  });
});

describe('chat webview interaction', () => {
  function typeAndPress(w: Webview, text: string, shiftKey = false): KeyboardEvent {
    const input = w.byId<HTMLTextAreaElement>('input');
    input.value = text;
    input.dispatchEvent(new w.dom.window.Event('input', { bubbles: true }));
    const event = new w.dom.window.KeyboardEvent('keydown', {
      key: 'Enter',
      shiftKey,
      bubbles: true,
      cancelable: true,
    });
    input.dispatchEvent(event);
    return event;
  }

  it('announces itself with ready', () => {
    expect(openWebview().posted).toEqual([{ type: 'ready' }]);
  });

  it('Enter sends the question with the context flags and shows it; Shift+Enter does not send', () => {
    const w = openWebview();
    w.posted.length = 0;
    const shift = typeAndPress(w, 'line one', true);
    expect(shift.defaultPrevented).toBe(false);
    expect(w.posted).toEqual([]);

    w.byId<HTMLInputElement>('include-file').checked = true;
    const enter = typeAndPress(w, '  What does evict.ts do?  ');
    expect(enter.defaultPrevented).toBe(true);
    expect(w.posted).toEqual([
      { type: 'ask', text: 'What does evict.ts do?', includeSelection: false, includeFile: true },
    ]);
    expect(w.byId<HTMLTextAreaElement>('input').value).toBe('');
    expect(w.doc.querySelector('.message.user')!.textContent).toBe('What does evict.ts do?');
  });

  it('does not send empty questions, nor a second one while an answer is pending', () => {
    const w = openWebview();
    w.posted.length = 0;
    typeAndPress(w, '   ');
    expect(w.posted).toEqual([]);
    typeAndPress(w, 'first');
    typeAndPress(w, 'second');
    expect(w.posted).toEqual([{ type: 'ask', text: 'first', includeSelection: false, includeFile: false }]);
  });

  it('the send button submits too', () => {
    const w = openWebview();
    w.posted.length = 0;
    w.byId<HTMLInputElement>('include-selection').checked = true;
    w.byId<HTMLTextAreaElement>('input').value = 'explain';
    w.byId('send').click();
    expect(w.posted).toEqual([{ type: 'ask', text: 'explain', includeSelection: true, includeFile: false }]);
  });

  it('shows stop while streaming, posts stop on click, hides it at the end', () => {
    const w = openWebview();
    const stop = w.byId<HTMLButtonElement>('stop');
    expect(stop.hidden).toBe(true);
    typeAndPress(w, 'q');
    w.send({ type: 'start', id: 'a1' });
    w.send({ type: 'delta', id: 'a1', html: '<p>par</p>' });
    w.send({ type: 'delta', id: 'a1', html: '<p>partial answer</p>' });
    expect(stop.hidden).toBe(false);
    expect(w.byId<HTMLButtonElement>('send').disabled).toBe(true);
    expect(w.doc.querySelector('.message.assistant.streaming .content')!.textContent).toBe('partial answer');
    w.posted.length = 0;
    stop.click();
    expect(w.posted).toEqual([{ type: 'stop' }]);
    w.send({ type: 'end', id: 'a1' });
    expect(stop.hidden).toBe(true);
    expect(w.byId<HTMLButtonElement>('send').disabled).toBe(false);
    expect(w.doc.querySelector('.message.assistant.streaming')).toBeNull();
  });

  it('an error ends streaming', () => {
    const w = openWebview();
    w.send({ type: 'start', id: 'a1' });
    w.send({ type: 'error', message: 'cancelled' });
    expect(w.byId('stop').hidden).toBe(true);
  });

  it('copy and insert buttons post the code block text', () => {
    const w = openWebview();
    w.send({ type: 'start', id: 'a1' });
    w.send({ type: 'delta', id: 'a1', html: renderMarkdown('```py\nprint("<hi>")\n```') });
    w.send({ type: 'end', id: 'a1' });
    w.posted.length = 0;
    const buttons = w.doc.querySelectorAll<HTMLButtonElement>('.code-block button[data-action]');
    buttons[0]!.querySelector('span')!.click(); // a click on the icon inside the button counts
    buttons[1]!.click();
    expect(w.posted).toEqual([
      { type: 'copy', code: 'print("<hi>")\n' },
      { type: 'insert', code: 'print("<hi>")\n' },
    ]);
  });

  it('clear posts clear; history replaces the view', () => {
    const w = openWebview();
    w.posted.length = 0;
    w.byId('clear').click();
    expect(w.posted).toEqual([{ type: 'clear' }]);
    w.send({ type: 'history', messages: [{ role: 'user', text: 'a' }] });
    w.send({ type: 'history', messages: [] });
    expect(w.byId('messages').childElementCount).toBe(0);
    expect(w.byId('empty').hidden).toBe(false);
  });

  it('ignores malformed messages and deltas for unknown answers', () => {
    const w = openWebview();
    for (const bad of [null, 'x', { type: 42 }, { type: 'delta', id: 'nope', html: '<p>x</p>' }, { type: 'history' }])
      w.send(bad as Record<string, unknown>);
    expect(w.byId('messages').childElementCount).toBe(0);
  });

  it('restores the draft and the context checkboxes from the saved state', () => {
    const w = openWebview({ draft: 'half a question', includeSelection: true, includeFile: false });
    expect(w.byId<HTMLTextAreaElement>('input').value).toBe('half a question');
    expect(w.byId<HTMLInputElement>('include-selection').checked).toBe(true);
  });
});
