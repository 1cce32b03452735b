// RepoKV chat webview. Plain browser script, no build step: it runs under a CSP that allows only this file (by
// nonce), so there is no inline handler, no eval, no string-to-code anywhere. The protocol is described in
// src/extension/chat/protocol.ts. Answers arrive as HTML already rendered safely by the extension host; it is
// sanitised again here with an allowlist before it touches the page, because this is the last place where a
// mistake upstream (or a compromised message) could still be stopped.
/* global acquireVsCodeApi, window, document, DOMParser, Node, setTimeout */
(function () {
  'use strict';

  const vscode = acquireVsCodeApi();

  // ---- Sanitiser -------------------------------------------------------------------------------------------------

  /** Elements kept (rebuilt from scratch, with allowed attributes only). */
  const ALLOWED_TAGS = new Set(
    (
      'a b blockquote br button code del div em h1 h2 h3 h4 h5 h6 hr i kbd li ol p pre s span strong ' +
      'sub sup table tbody td th thead tr ul'
    ).split(' '),
  );
  /** Elements dropped with everything inside them: their content is code, a document or a form, never text. */
  const DROPPED_TAGS = new Set(
    (
      'applet audio base canvas embed form frame frameset head iframe img input link math meta noembed ' +
      'noframes noscript object picture portal script select source style svg template textarea title ' +
      'video xmp'
    ).split(' '),
  );
  // Anything else (unknown or harmless tags such as <font>) is unwrapped: its children are kept, the tag is not.

  const SAFE_HREF = /^(?:https?:\/\/|mailto:)/i;
  const SAFE_CLASS = /^[\w-]+$/;

  /** Attribute value to keep, or null. Event handlers, styles and unknown attributes never pass. */
  function allowedAttribute(tag, name, value) {
    switch (name) {
      case 'class': {
        const kept = value.split(/\s+/).filter((c) => SAFE_CLASS.test(c));
        return kept.length > 0 ? kept.join(' ') : null;
      }
      case 'title':
        return value;
      case 'aria-hidden':
        return value === 'true' ? value : null;
      case 'href':
        return tag === 'a' && SAFE_HREF.test(value) ? value : null;
      case 'start':
        return tag === 'ol' && /^\d{1,9}$/.test(value) ? value : null;
      case 'data-action':
        return tag === 'button' && (value === 'copy' || value === 'insert') ? value : null;
      case 'data-lang':
        return tag === 'div' && /^[\w+#.-]{1,32}$/.test(value) ? value : null;
      default:
        return null;
    }
  }

  function cleanNode(node, out) {
    if (node.nodeType === Node.TEXT_NODE) {
      out.appendChild(document.createTextNode(node.nodeValue || ''));
      return;
    }
    if (node.nodeType !== Node.ELEMENT_NODE) return; // comments, processing instructions, doctypes
    const tag = node.localName;
    if (DROPPED_TAGS.has(tag) || node.namespaceURI !== 'http://www.w3.org/1999/xhtml') return;
    if (!ALLOWED_TAGS.has(tag)) {
      for (const child of Array.from(node.childNodes)) cleanNode(child, out);
      return;
    }
    const copy = document.createElement(tag);
    for (const attribute of Array.from(node.attributes)) {
      const value = allowedAttribute(tag, attribute.name.toLowerCase(), attribute.value.trim());
      if (value !== null) copy.setAttribute(attribute.name.toLowerCase(), value);
    }
    // Buttons must never submit anything; links open outside the webview.
    if (tag === 'button') copy.setAttribute('type', 'button');
    if (tag === 'a' && copy.hasAttribute('href')) copy.setAttribute('rel', 'noopener noreferrer');
    for (const child of Array.from(node.childNodes)) cleanNode(child, copy);
    out.appendChild(copy);
  }

  /**
   * Untrusted HTML to a fragment of fresh nodes. DOMParser builds an inert document (no scripts run, nothing
   * loads); the result is rebuilt node by node in this document, so nothing from the parsed tree is adopted as is.
   */
  function sanitize(html) {
    const parsed = new DOMParser().parseFromString(String(html), 'text/html');
    const fragment = document.createDocumentFragment();
    for (const child of Array.from(parsed.body.childNodes)) cleanNode(child, fragment);
    return fragment;
  }

  // ---- View ------------------------------------------------------------------------------------------------------

  const messages = document.getElementById('messages');
  const empty = document.getElementById('empty');
  const form = document.getElementById('composer');
  const input = document.getElementById('input');
  const includeSelection = document.getElementById('include-selection');
  const includeFile = document.getElementById('include-file');
  const sendButton = document.getElementById('send');
  const stopButton = document.getElementById('stop');
  const clearButton = document.getElementById('clear');

  /** Answers by id, while they may still receive deltas. */
  const answers = new Map();
  let streaming = false;

  function setStreaming(on) {
    streaming = on;
    stopButton.hidden = !on;
    sendButton.disabled = on;
    if (!on) {
      for (const element of answers.values()) element.classList.remove('streaming');
      answers.clear();
    }
  }

  function nearBottom() {
    return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 40;
  }

  /** Adds a message element; keeps the view pinned to the bottom only if the user had not scrolled up. */
  function appendMessage(role, fill) {
    const pinned = nearBottom();
    const element = document.createElement('div');
    element.className = `message ${role}`;
    const content = document.createElement('div');
    content.className = 'content';
    fill(content);
    element.appendChild(content);
    messages.appendChild(element);
    empty.hidden = true;
    if (pinned) messages.scrollTop = messages.scrollHeight;
    return element;
  }

  function showUser(text) {
    return appendMessage('user', (content) => {
      content.textContent = text;
    });
  }

  function showAssistant(html) {
    return appendMessage('assistant', (content) => content.replaceChildren(sanitize(html)));
  }

  function replaceAnswer(element, html) {
    const pinned = nearBottom();
    element.querySelector('.content').replaceChildren(sanitize(html));
    if (pinned) messages.scrollTop = messages.scrollHeight;
  }

  // ---- Messages from the extension -------------------------------------------------------------------------------

  function isString(value) {
    return typeof value === 'string';
  }

  function handle(message) {
    if (!message || !isString(message.type)) return;
    switch (message.type) {
      case 'start': {
        if (!isString(message.id)) return;
        const element = showAssistant('');
        element.classList.add('streaming');
        answers.set(message.id, element);
        setStreaming(true);
        break;
      }
      case 'delta': {
        const element = isString(message.id) ? answers.get(message.id) : undefined;
        if (element && isString(message.html)) replaceAnswer(element, message.html);
        break;
      }
      case 'end':
        if (isString(message.id) && answers.has(message.id)) setStreaming(false);
        break;
      case 'error':
        appendMessage('error', (content) => {
          content.textContent = isString(message.message) ? message.message : 'Something went wrong.';
        });
        setStreaming(false);
        break;
      case 'history':
        if (!Array.isArray(message.messages)) return;
        messages.replaceChildren();
        setStreaming(false);
        for (const m of message.messages) {
          if (m && m.role === 'user' && isString(m.text)) showUser(m.text);
          else if (m && m.role === 'assistant' && isString(m.html)) showAssistant(m.html);
        }
        empty.hidden = messages.childElementCount > 0;
        break;
    }
  }

  window.addEventListener('message', (event) => handle(event.data));

  // ---- User actions ----------------------------------------------------------------------------------------------

  function saveDraft() {
    vscode.setState({
      draft: input.value,
      includeSelection: includeSelection.checked,
      includeFile: includeFile.checked,
    });
  }

  function send() {
    const text = input.value.trim();
    if (text === '' || streaming) return;
    vscode.postMessage({
      type: 'ask',
      text,
      includeSelection: includeSelection.checked,
      includeFile: includeFile.checked,
    });
    showUser(text);
    input.value = '';
    saveDraft();
    // Until the extension answers `start` (or `error`), a second Enter must not send the question twice.
    setStreaming(true);
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    send();
  });

  input.addEventListener('keydown', (event) => {
    // Enter sends, Shift+Enter inserts a line break; Enter that confirms an IME composition does neither.
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  input.addEventListener('input', saveDraft);
  includeSelection.addEventListener('change', saveDraft);
  includeFile.addEventListener('change', saveDraft);

  stopButton.addEventListener('click', () => vscode.postMessage({ type: 'stop' }));
  clearButton.addEventListener('click', () => vscode.postMessage({ type: 'clear' }));

  // Copy / insert buttons of code blocks, by delegation: the buttons come from sanitised HTML and carry only a
  // data-action; the code is read from the block's own <code> element, as text.
  messages.addEventListener('click', (event) => {
    const target = event.target;
    const button = target && target.closest ? target.closest('button[data-action]') : null;
    if (!button || !messages.contains(button)) return;
    const block = button.closest('.code-block');
    const code = block ? block.querySelector('pre code') : null;
    const action = button.getAttribute('data-action');
    if (!code || (action !== 'copy' && action !== 'insert')) return;
    vscode.postMessage({ type: action, code: code.textContent || '' });
    button.classList.add('done');
    setTimeout(() => button.classList.remove('done'), 1200);
  });

  const saved = vscode.getState();
  if (saved && typeof saved === 'object') {
    if (isString(saved.draft)) input.value = saved.draft;
    includeSelection.checked = saved.includeSelection === true;
    includeFile.checked = saved.includeFile === true;
  }

  vscode.postMessage({ type: 'ready' });
})();
