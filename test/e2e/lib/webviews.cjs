/*
 * RepoKV's webviews: the chat view in the sidebar and the statistics panel in an editor. Each is two nested
 * iframes, the outer one `iframe.webview.ready[src*="extensionId=..."]`, the inner one `#active-frame`.
 */
'use strict';
const { EXTENSION_ID, T } = require('./config.cjs');
const { Fatal, until } = require('./time.cjs');
const { browserErrors, clean, getPage } = require('./workbench.cjs');

/**
 * The inner frame of one of RepoKV's webviews: the sidebar view (`view: true`) or an editor panel. Returned as a
 * Frame, so that both locators and evaluate() work on it.
 */
async function webviewFrame({ view, hasSelector }) {
  const outerSel =
    `iframe.webview.ready[src*="extensionId=${EXTENSION_ID}"]` +
    (view ? '[src*="purpose=webviewView"]' : ':not([src*="purpose=webviewView"])');
  return until(`the ${view ? 'chat view' : 'statistics panel'} webview`, T.webview, async () => {
    for (const outer of await getPage().locator(outerSel).elementHandles()) {
      const outerFrame = await outer.contentFrame();
      const innerEl = outerFrame && (await outerFrame.$('#active-frame'));
      const inner = innerEl && (await innerEl.contentFrame());
      if (!inner) continue;
      if (await inner.$(hasSelector)) return inner;
      // When the extension's resolveWebviewView throws, VS Code shows its own page in the webview instead.
      const body = clean(await inner.evaluate(() => (document.body ? document.body.innerText : ''))).trim();
      if (/An error occurred while loading view/.test(body)) {
        const cause = browserErrors.filter((e) => !/An error occurred while loading view/.test(e)).slice(-1)[0];
        throw new Fatal(`VS Code shows "${body}"${cause ? `; workbench console: ${cause}` : ''}`);
      }
    }
    return undefined;
  });
}

/** Presses the panel's Refresh button and waits for the answer (media/stats.js hides "Refreshing…" on it). */
async function refreshStatsPanel(frame) {
  await frame.locator('#refresh').click();
  await frame.locator('#status').waitFor({ state: 'hidden', timeout: 15000 });
}

/** The statistics panel's summary (`<dl>`), as { label: value }. */
async function readStatsPanel(frame) {
  return frame.evaluate(() => {
    const out = {};
    const dts = document.querySelectorAll('#summary dt');
    for (const dt of dts) out[dt.textContent] = dt.nextElementSibling ? dt.nextElementSibling.textContent : '';
    return out;
  });
}

/**
 * Starts recording, in the chat view, every state of the last answer while it is written (a streamed answer shows
 * up in several pieces): { text, streaming, t } each time its text or its `streaming` class changes.
 */
async function recordChatAnswers(frame) {
  await frame.evaluate(() => {
    const w = /** @type {any} */ (window);
    w.__answerStates = [];
    const messages = document.getElementById('messages');
    const record = () => {
      const answers = messages.querySelectorAll('.message.assistant');
      const a = answers[answers.length - 1];
      if (!a) return;
      const text = a.textContent || '';
      const states = w.__answerStates;
      const streaming = a.classList.contains('streaming');
      if (
        !states.length ||
        states[states.length - 1].text !== text ||
        states[states.length - 1].streaming !== streaming
      ) {
        states.push({ text, streaming, t: Date.now() });
      }
    };
    new MutationObserver(record).observe(messages, {
      childList: true,
      subtree: true,
      characterData: true,
      attributes: true,
    });
  });
}

/** The answer states recorded so far (see recordChatAnswers). */
async function chatAnswerStates(frame) {
  return frame.evaluate(() => /** @type {any} */ (window).__answerStates);
}

module.exports = { webviewFrame, refreshStatsPanel, readStatsPanel, recordChatAnswers, chatAnswerStates };
