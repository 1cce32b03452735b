#!/usr/bin/env node
/*
 * RepoKV end to end, in a real VS Code: code-server (started by run.sh, the packaged VSIX installed) loaded in
 * Debian's Chromium driven by playwright-core. Each check is counted; the last line printed is the tally,
 * "N passed, N failed", and the exit status is 1 when anything failed.
 *
 *   node e2e.cjs --base http://127.0.0.1:PORT --workspace DIR --screenshots DIR --logs DIR
 *
 * The workspace is test/e2e/workspace copied by run.sh. Selectors follow the shared E2E notes (VS Code 1.139):
 * webviews are two nested iframes, the outer one `iframe.webview.ready[src*="extensionId=..."]`, the inner one
 * `#active-frame`.
 */
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

// ---- arguments ---------------------------------------------------------------------------------------------------
const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const BASE = args.base;
const WS = args.workspace;
const SHOTS = args.screenshots || path.join(__dirname, 'screenshots');
const LOGS = args.logs || os.tmpdir();
if (!BASE || !WS) {
  console.error('usage: e2e.cjs --base URL --workspace DIR [--screenshots DIR] [--logs DIR]');
  process.exit(2);
}
const EXTENSION_ID = 'repokv.repokv';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const HEADED = process.env.REPOKV_E2E_HEADED === '1';

// ---- bounded waits (seconds) -------------------------------------------------------------------------------------
const T = {
  workbench: 90,
  activation: 90, // onStartupFinished: about 12 s after navigation on 2 cores
  indexed: 240, // first start: graph build + prefill of the small repository with the tiny model
  ghost: 45,
  palette: 15,
  notification: 30,
  webview: 30,
  chat: 180,
  update: 120,
  total: 840, // watchdog for the whole script (run.sh's own timeout is 900 s)
};

// ---- the tally ---------------------------------------------------------------------------------------------------
const results = [];
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const log = (...a) => console.log(`[${elapsed()}]`, ...a);

let page; // set once the browser is up
/** Errors the workbench logged (an extension's webview that throws shows up here), harmless ones left out. */
const browserErrors = [];
const HARMLESS = /vsda|status of 404|sandbox|open-vsx|service worker/i;
let context;

/**
 * Runs one check. `requires` names checks that must have passed: without them this one fails at once (it could
 * only time out), saying which one it needed.
 */
async function check(name, fn, requires = []) {
  const missing = requires.filter((r) => !results.some((x) => x.name === r && x.ok));
  if (missing.length > 0) {
    results.push({ name, ok: false });
    log(`FAIL ${name}: not run, needs ${missing.map((m) => `"${m}"`).join(', ')}`);
    return false;
  }
  const started = Date.now();
  try {
    const detail = await fn();
    results.push({ name, ok: true });
    log(`PASS ${name}${detail ? ` — ${detail}` : ''} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return true;
  } catch (err) {
    results.push({ name, ok: false });
    log(`FAIL ${name}: ${err && err.message ? err.message.split('\n').slice(0, 6).join('\n    ') : err}`);
    await diagnose(name);
    return false;
  }
}

function tally() {
  const passed = results.filter((r) => r.ok).length;
  return { passed, failed: results.length - passed };
}

function finish(extraFailures = 0) {
  const { passed, failed } = tally();
  console.log(`${passed} passed, ${failed + extraFailures} failed`);
  process.exit(failed + extraFailures > 0 ? 1 : 0);
}

/** On a failure: a screenshot, the status bar, visible notifications and the tail of RepoKV's log. */
async function diagnose(name) {
  if (!page) return;
  const slug = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
  try {
    await page.screenshot({ path: path.join(LOGS, `failure-${slug}.png`), timeout: 5000 });
    log(`  screenshot: ${path.join(LOGS, `failure-${slug}.png`)}`);
  } catch {
    /* the page may be gone */
  }
  try {
    const status = await statusItem().textContent({ timeout: 1000 });
    const tooltip = await statusItem().getAttribute('aria-label', { timeout: 1000 });
    log(`  status bar: ${JSON.stringify(status)} (aria-label ${JSON.stringify(tooltip)})`);
  } catch {
    log('  status bar: no RepoKV item');
  }
  try {
    const toasts = await page.locator('.notifications-toasts .notification-toast').allTextContents();
    for (const t of toasts) log(`  notification: ${t}`);
  } catch {
    /* none */
  }
  const repokvLog = findFile(path.join(LOGS, 'data', 'logs'), /^RepoKV\.log$/);
  if (repokvLog) {
    const all = fs.readFileSync(repokvLog, 'utf8').trimEnd().split('\n');
    const problems = all.filter((l) => /\[(error|warning)\]|fail/i.test(l));
    const lines = (problems.length ? problems : all).slice(-8);
    log(`  ${repokvLog} (${problems.length ? 'errors and failures' : 'last lines'}):\n    ${lines.join('\n    ')}`);
  }
  for (const e of browserErrors.slice(-5)) log(`  browser console: ${e}`);
}

function findFile(dir, pattern) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isFile() && pattern.test(e.name)) return p;
    if (e.isDirectory()) {
      const found = findFile(p, pattern);
      if (found) return found;
    }
  }
  return undefined;
}

// ---- helpers -----------------------------------------------------------------------------------------------------
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const clean = (s) => (s || '').replace(/\u00a0/g, ' ');

/** Thrown inside an `until` callback to stop waiting at once (an error shown by the product, say). */
class Fatal extends Error {}

/** Polls `fn` until it returns a truthy value, or throws `what` after `seconds`. */
async function until(what, seconds, fn, intervalMs = 250) {
  const deadline = Date.now() + seconds * 1000;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      if (err instanceof Fatal) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${seconds} s waiting for ${what}${last instanceof Error ? ` (${last.message})` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

function statusItem() {
  // The item made in activate() (status-bar.ts, id `repokv.status`); VS Code prefixes the extension id.
  return page.locator('.statusbar-item[id*="repokv.status"]').first();
}

async function statusText() {
  return clean(await statusItem().innerText({ timeout: 2000 })).trim();
}

async function shot(name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/** Runs a command from the palette by its title, e.g. "RepoKV: Show Cache Statistics". */
async function runCommand(title) {
  const input = page.locator('.quick-input-widget input');
  for (let attempt = 0; ; attempt++) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    try {
      await input.waitFor({ state: 'visible', timeout: 4000 });
      break;
    } catch (err) {
      // Focus may be inside a webview that swallowed F1: put it back on the workbench and retry.
      if (attempt >= 2) throw err;
      await page.locator('.statusbar').click({ position: { x: 5, y: 5 } });
    }
  }
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible', timeout: T.palette * 1000 });
  await page.keyboard.press('Enter');
}

/** A visible notification toast containing `text`. */
function toast(text) {
  return page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
}

/**
 * The inner frame of one of RepoKV's webviews: the sidebar view (`view: true`) or an editor panel. Returned as a
 * Frame, so that both locators and evaluate() work on it.
 */
async function webviewFrame({ view, hasSelector }) {
  const outerSel =
    `iframe.webview.ready[src*="extensionId=${EXTENSION_ID}"]` +
    (view ? '[src*="purpose=webviewView"]' : ':not([src*="purpose=webviewView"])');
  return until(`the ${view ? 'chat view' : 'statistics panel'} webview`, T.webview, async () => {
    for (const outer of await page.locator(outerSel).elementHandles()) {
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

/** "1.23k" / "950" / "2.1M" back to a number (formatCount in src/extension/format.ts). */
function parseCount(s) {
  const m = /^([\d.]+)([kMG]?)$/.exec(String(s).trim());
  if (!m) return NaN;
  return Number(m[1]) * { '': 1, k: 1e3, M: 1e6, G: 1e9 }[m[2]];
}

/**
 * statsSummary() of src/extension/commands.ts:
 * "RepoKV: 5 files, 812 tokens (406 kept) in 52 KB, 64.0 bytes/token, 32× vs fp16, on cpu"
 */
function parseSummary(text) {
  const m =
    /RepoKV: (\d+) files, ([\d.]+[kMG]?) tokens \(([\d.]+[kMG]?) kept\) in ([\d.]+ [KMGT]?B), ([\d.]+) bytes\/token, ([\d.]+)× vs fp16, on (\w+)/.exec(
      text,
    );
  if (!m) throw new Error(`the statistics message does not read as expected: ${JSON.stringify(text)}`);
  return {
    files: Number(m[1]),
    tokens: parseCount(m[2]),
    tokensText: m[2],
    kept: parseCount(m[3]),
    bytes: m[4],
    bytesPerToken: Number(m[5]),
    ratio: Number(m[6]),
    provider: m[7],
  };
}

/** fp16 bytes per cached token of the bundled model: K and V, per layer, per KV head, head_dim values of 2 bytes. */
function fp16BytesPerToken() {
  const cfgPath = path.join(__dirname, '..', '..', 'models', 'tiny-coder', 'config.json');
  const c = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
  const headDim = c.head_dim || c.hidden_size / c.num_attention_heads;
  return 2 * c.num_hidden_layers * (c.num_key_value_heads || c.num_attention_heads) * headDim * 2;
}

/** Opens a workspace file through the Explorer (proves the remote file system) and focuses its editor. */
async function openFile(relPath) {
  const parts = relPath.split('/');
  // Show the Explorer (clicking its icon while it is shown would hide it).
  const explorer = page.locator('.explorer-folders-view');
  if (!(await explorer.isVisible())) {
    await page.keyboard.press('Control+Shift+E');
    await explorer.waitFor({ state: 'visible', timeout: 3000 }).catch(async () => {
      await page.locator('.activitybar .action-label[aria-label^="Explorer"]').first().click();
    });
  }
  await explorer.waitFor({ state: 'visible', timeout: 10000 });
  for (let i = 0; i < parts.length; i++) {
    const row = page
      .locator('.explorer-folders-view .monaco-list-row', { hasText: new RegExp(`^\\s*${parts[i]}\\s*$`) })
      .first();
    await row.waitFor({ state: 'visible', timeout: 15000 });
    const last = i === parts.length - 1;
    const expanded = await row.getAttribute('aria-expanded');
    if (last || expanded !== 'true') await row.click();
  }
  const tab = page.locator('.tabs-container .tab.active', { hasText: parts[parts.length - 1] });
  await tab.waitFor({ state: 'visible', timeout: 15000 });
  const editor = page.locator('.editor-instance .monaco-editor').first();
  await editor.locator('.view-lines').click();
  return editor;
}

/**
 * The ghost text shown: `first` on the cursor's line (`.ghost-text-decoration` spans, one per syntax token), `more`
 * for the lines below it (`.ghost-text` spans in the `.suggest-preview-text` view zone, grouped by `.view-line`).
 */
/** The rendered lines of the active editor without ghost text (only visible lines are rendered). */
async function editorText() {
  const text = await page.evaluate(() => {
    const editor = document.querySelector('.editor-instance .monaco-editor');
    if (!editor) return '';
    const lines = [...editor.querySelectorAll('.view-lines .view-line')]
      .map((line) => {
        const copy = line.cloneNode(true);
        for (const g of copy.querySelectorAll('[class*="ghost-text"]')) g.remove();
        return { top: parseFloat(line.style.top) || 0, text: copy.textContent };
      })
      .sort((a, b) => a.top - b.top);
    return lines.map((l) => l.text).join('\n');
  });
  return clean(text);
}

async function ghostText() {
  const g = await page.evaluate(() => {
    const first = [...document.querySelectorAll('.monaco-editor .ghost-text-decoration')]
      .map((e) => e.textContent)
      .join('');
    const lines = new Map();
    for (const e of document.querySelectorAll('.monaco-editor .ghost-text')) {
      const line = e.closest('.view-line') || e.parentElement;
      lines.set(line, (lines.get(line) || '') + e.textContent);
    }
    return { first, more: [...lines.values()] };
  });
  return { first: clean(g.first), more: g.more.map(clean) };
}

// ---- the scenario ------------------------------------------------------------------------------------------------
async function main() {
  const watchdog = setTimeout(() => {
    log(`FAIL watchdog: the script ran longer than ${T.total} s`);
    results.push({ name: 'watchdog', ok: false });
    Promise.race([context ? context.close() : Promise.resolve(), sleep(5000)]).finally(() => finish());
  }, T.total * 1000);

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-e2e-chromium-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: !HEADED,
    viewport: { width: 1400, height: 900 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  page = context.pages()[0] || (await context.newPage());
  const consoleLog = fs.createWriteStream(path.join(LOGS, 'browser-console.log'));
  page.on('console', (m) => {
    consoleLog.write(`[${elapsed()}] ${m.type()}: ${m.text()}\n`);
    if (m.type() === 'error' && !HARMLESS.test(m.text())) browserErrors.push(m.text().slice(0, 300));
  });
  page.on('pageerror', (e) => consoleLog.write(`[${elapsed()}] pageerror: ${e.message}\n`));

  const wsFile = (rel) => path.join(WS, rel);
  const state = {};

  await check('workbench loads the workspace', async () => {
    await page.goto(`${BASE}/?folder=${encodeURIComponent(WS)}`, { timeout: T.workbench * 1000 });
    await page.locator('.monaco-workbench').waitFor({ timeout: T.workbench * 1000 });
    // A row of the workspace in the Explorer proves the connection to the server's file system.
    await page
      .locator('.explorer-folders-view .monaco-list-row', { hasText: 'tools' })
      .first()
      .waitFor({ timeout: T.workbench * 1000 });
  });

  await check(
    'extension activates (RepoKV status bar item)',
    async () => {
      await statusItem().waitFor({ state: 'visible', timeout: T.activation * 1000 });
      return `status bar: "${await statusText()}"`;
    },
    ['workbench loads the workspace'],
  );

  await check(
    'repository indexed (status bar shows the cache)',
    async () => {
      // Ready with statistics: "$(database) 812 tok · 52 KB · 32× · cpu" (status-bar.ts readyView).
      const text = await until(
        'the status bar to show the cached tokens',
        T.indexed,
        async () => {
          const t = await statusText();
          const label = (await statusItem().getAttribute('aria-label')) || '';
          if (/error/i.test(await statusItem().innerHTML()) && !/tok/.test(t)) {
            throw new Fatal(`the sidecar failed: ${label}`);
          }
          return /\d[\d.]*[kMG]? tok/.test(t) ? t : undefined;
        },
        500,
      );
      state.statusBefore = text;
      return `status bar: "${text}"`;
    },
    ['extension activates (RepoKV status bar item)'],
  );

  // --- inline completion: type, see ghost text from the model, accept it with Tab, check the file -----------------
  const typed = "console.log('fence', fence(";
  await check(
    'ghost text from the model appears while typing',
    async () => {
      await openFile('src/main.ts');
      await page.keyboard.press('Control+End');
      await page.keyboard.press('Enter');
      await page.keyboard.type(typed, { delay: 40 });
      let ghost = await until('ghost text', 20, async () => {
        const g = await ghostText();
        return g.first.trim() || g.more.some((l) => l.trim()) ? g : undefined;
      }).catch(() => undefined);
      // A completion may come only on an explicit request: editor.action.inlineSuggest.trigger.
      for (let attempt = 0; !ghost && attempt < 3; attempt++) {
        await page.keyboard.press('Alt+Backslash');
        ghost = await until('ghost text after Alt+\\', T.ghost / 3, async () => {
          const g = await ghostText();
          return g.first.trim() || g.more.some((l) => l.trim()) ? g : undefined;
        }).catch(() => undefined);
      }
      if (!ghost) throw new Error('no ghost text after typing and three Alt+\\ triggers');
      state.ghost = ghost;
      await shot('ghost-text');
      return `ghost text ${JSON.stringify(ghost.first)}${ghost.more.length ? ` + ${ghost.more.length} more line(s)` : ''}`;
    },
    ['repository indexed (status bar shows the cache)'],
  );

  await check(
    'Tab accepts the ghost text (editor and saved file)',
    async () => {
      const before = fs.readFileSync(wsFile('src/main.ts'), 'utf8');
      await page.keyboard.press('Tab');
      const firstLine = (typed + state.ghost.first).trimEnd();
      // In the document now: the rendered line holds it without any ghost decoration (a new suggestion may
      // already be showing after it, which is left out).
      await until(`the editor to show ${JSON.stringify(firstLine)}`, 10, async () =>
        (await editorText()).split('\n').some((l) => l.trimEnd() === firstLine),
      );
      await page.keyboard.press('Escape'); // a follow-up suggestion is not part of this check
      await page.keyboard.press('Control+S');
      const saved = await until('the file to be saved', 15, async () => {
        const text = fs.readFileSync(wsFile('src/main.ts'), 'utf8');
        return text !== before ? text : undefined;
      });
      if (!saved.startsWith(before.trimEnd())) throw new Error('the saved file lost its original text');
      const added = saved.slice(before.trimEnd().length);
      if (!added.includes(firstLine)) {
        throw new Error(`the saved file does not hold ${JSON.stringify(firstLine)}; it ends ${JSON.stringify(added)}`);
      }
      for (const l of state.ghost.more.map((x) => x.trim()).filter(Boolean)) {
        if (!added.includes(l)) throw new Error(`the saved file lacks the ghost line ${JSON.stringify(l)}`);
      }
      await shot('accepted');
      return `saved: ${JSON.stringify(added.trim())}`;
    },
    ['ghost text from the model appears while typing'],
  );

  // --- statistics: the command, its message, its panel -------------------------------------------------------------
  await check(
    '"RepoKV: Show Cache Statistics" reports consistent numbers',
    async () => {
      await runCommand('RepoKV: Show Cache Statistics');
      const t = toast('tokens');
      await t.waitFor({ state: 'visible', timeout: T.notification * 1000 });
      const text = clean(await t.locator('.notification-list-item-message').innerText());
      const s = parseSummary(text);
      const sourceFiles = 5; // src/*.ts (3) and tools/*.py (2); README.md and .gitignore may count too
      const problems = [];
      if (s.files < sourceFiles || s.files > sourceFiles + 2)
        problems.push(`files ${s.files}, expected ${sourceFiles}–${sourceFiles + 2}`);
      if (!(s.tokens > 50)) problems.push(`tokens ${s.tokens}, expected > 50 for ${s.files} files`);
      if (!(s.kept > 0 && s.kept <= s.tokens)) problems.push(`kept ${s.kept} not in (0, tokens]`);
      const fp16 = fp16BytesPerToken();
      if (!(s.bytesPerToken > 0 && s.bytesPerToken < fp16))
        problems.push(`${s.bytesPerToken} bytes/token, fp16 is ${fp16}`);
      if (!(s.ratio > 1)) problems.push(`compression ${s.ratio}× vs fp16, expected > 1`);
      if (s.provider !== 'cpu') problems.push(`provider ${s.provider}, the settings ask for cpu`);
      // The status bar shows the same count (it may lag behind by a refresh while an edit is being indexed).
      const statusTokens = await until(`the status bar to show ${s.tokensText} tokens`, 15, async () => {
        const m = /(\d[\d.]*[kMG]?) tok/.exec(await statusText());
        return m && m[1] === s.tokensText ? m[1] : undefined;
      }).catch(async () => /(\d[\d.]*[kMG]?) tok/.exec(await statusText())?.[1]);
      if (statusTokens !== s.tokensText)
        problems.push(`status bar says ${statusTokens} tokens, the message ${s.tokensText}`);
      if (problems.length) throw new Error(`${problems.join('; ')}: ${JSON.stringify(text)}`);
      state.summary = s;
      state.summaryText = text;
      return JSON.stringify(text);
    },
    ['repository indexed (status bar shows the cache)'],
  );

  await check(
    'statistics panel ("Open details") shows the same numbers',
    async () => {
      await toast('tokens').locator('.monaco-button', { hasText: 'Open details' }).click();
      const frame = await webviewFrame({ view: false, hasSelector: '#summary dt' });
      state.statsFrame = frame;
      const panel = await readStatsPanel(frame);
      const s = state.summary;
      const problems = [];
      if (panel['Files'] !== String(s.files)) problems.push(`Files ${panel['Files']} vs ${s.files}`);
      if (panel['Tokens'] !== s.tokensText) problems.push(`Tokens ${panel['Tokens']} vs ${s.tokensText}`);
      if (panel['Execution provider'] !== s.provider) problems.push(`provider ${panel['Execution provider']}`);
      const fp16 = /\(fp16 ([\d.]+)\)/.exec(panel['Bytes per token'] || '');
      if (!fp16 || Number(fp16[1]) !== fp16BytesPerToken()) {
        problems.push(`fp16 bytes/token ${fp16 && fp16[1]} vs ${fp16BytesPerToken()} from the model's config.json`);
      }
      const charts = await frame.locator('#charts section.chart').count();
      if (charts < 1) problems.push('no charts');
      const bars = await frame.locator('#charts svg rect.bar').count();
      if (bars < 1) problems.push('no bars drawn');
      if (problems.length) throw new Error(`${problems.join('; ')}: ${JSON.stringify(panel)}`);
      state.panel = panel;
      await page.keyboard.press('Escape'); // leave the toast out of the picture when it is still there
      await shot('stats');
      return `${charts} charts, ${bars} bars; ${JSON.stringify(panel)}`;
    },
    ['"RepoKV: Show Cache Statistics" reports consistent numbers'],
  );

  // --- chat: a question, a streamed answer -------------------------------------------------------------------------
  await check(
    'chat streams an answer to a question',
    async () => {
      await runCommand('RepoKV: Open Chat');
      const frame = await webviewFrame({ view: true, hasSelector: '#input' });
      // Record every state of the answer while it is written: a streamed answer shows up in several pieces.
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
      const question = 'What does totalArea in src/shapes.ts compute?';
      await frame.locator('#input').fill(question);
      await frame.locator('#input').press('Enter');
      await frame.locator('.message.user', { hasText: 'totalArea' }).waitFor({ timeout: 10000 });
      const states = await until(
        'the answer to finish',
        T.chat,
        async () => {
          const error = await frame.locator('.message.error').allTextContents();
          if (error.length) throw new Fatal(`the chat answered with an error: ${error.join(' | ')}`);
          const s = await frame.evaluate(() => /** @type {any} */ (window).__answerStates);
          const last = s[s.length - 1];
          return last && !last.streaming && last.text.trim() ? s : undefined;
        },
        200,
      );
      const pieces = [...new Set(states.filter((s) => s.streaming && s.text.trim()).map((s) => s.text))];
      const final = states[states.length - 1].text.trim();
      if (pieces.length < 2) {
        throw new Error(
          `the answer arrived in ${pieces.length} piece(s), not streamed: ${JSON.stringify(states.map((s) => s.text.length))}`,
        );
      }
      // The first piece begins the final answer. Compared on letters and digits only: markup changes as the text
      // grows (an unclosed `code span shows its backtick, a finished code block gets a header and buttons).
      const norm = (x) => x.replace(/[^A-Za-z0-9]+/g, '');
      if (!norm(final).startsWith(norm(pieces[0]).slice(0, 6))) {
        throw new Error(
          `the first piece ${JSON.stringify(pieces[0])} does not begin the answer ${JSON.stringify(final)}`,
        );
      }
      await shot('chat');
      const span = states[states.length - 1].t - states[0].t;
      return `${pieces.length} partial states over ${span} ms, ${final.length} chars: ${JSON.stringify(final.slice(0, 80))}`;
    },
    ['repository indexed (status bar shows the cache)'],
  );

  // --- an edit updates the statistics ------------------------------------------------------------------------------
  await check(
    'editing a file updates the statistics (panel and status bar)',
    async () => {
      const before = state.panel;
      const statusBefore = await statusText();
      await openFile('src/geometry.ts');
      await page.keyboard.press('Control+End');
      const added = [
        'export const UNIT_SQUARE: Rectangle = { width: 1, height: 1 };',
        'export const UNIT_CIRCLE: Circle = { radius: 1 };',
        'export const SQUARE_AREAS = [1, 2, 3, 4, 5, 6, 7, 8].map((side) => rectangleArea({ width: side, height: side }));',
        'export const CIRCLE_AREAS = [1, 2, 3, 4, 5, 6, 7, 8].map((radius) => circleArea({ radius }));',
      ];
      for (const line of added) {
        await page.keyboard.press('Enter');
        await page.keyboard.press('Home'); // no auto-indent
        await page.keyboard.type(line, { delay: 5 });
        await page.keyboard.press('Escape'); // drop any ghost text rather than accept it
      }
      await page.keyboard.press('Control+S');
      await until('geometry.ts to be saved', 15, async () =>
        fs.readFileSync(wsFile('src/geometry.ts'), 'utf8').includes('CIRCLE_AREAS'),
      );
      log('  geometry.ts edited and saved');

      // The statistics panel: Refresh until the token count moves.
      await runCommand('RepoKV: Show Cache Statistics');
      await toast('tokens').locator('.monaco-button', { hasText: 'Open details' }).click();
      const frame = await webviewFrame({ view: false, hasSelector: '#summary dt' });
      log('  statistics panel open');
      const after = await until(
        'the statistics panel to show more tokens',
        T.update,
        async () => {
          await refreshStatsPanel(frame);
          const p = await readStatsPanel(frame);
          return parseCount(p['Tokens']) > parseCount(before['Tokens']) ? p : undefined;
        },
        1500,
      );
      log(`  panel: Tokens ${after['Tokens']}`);
      if (after['Files'] !== before['Files'])
        throw new Error(`Files went from ${before['Files']} to ${after['Files']}`);
      // The status bar follows without being asked.
      const statusAfter = await until(
        'the status bar to change',
        30,
        async () => {
          const t = await statusText();
          return t !== statusBefore && /tok/.test(t) ? t : undefined;
        },
        500,
      );
      await page.keyboard.press('Escape');
      await shot('stats-updated');
      state.panel = after;
      return `Tokens ${before['Tokens']} → ${after['Tokens']}, Cache size ${before['Cache size']} → ${after['Cache size']}; status bar "${statusBefore}" → "${statusAfter}"`;
    },
    ['statistics panel ("Open details") shows the same numbers'],
  );

  await check(
    'a file created outside the editor is indexed (Files + 1)',
    async () => {
      const before = state.panel;
      fs.writeFileSync(
        wsFile('tools/volume.py'),
        'from measure import circle_area\n\n\ndef cylinder_volume(radius, height):\n    return circle_area(radius) * height\n',
      );
      const frame = await webviewFrame({ view: false, hasSelector: '#summary dt' });
      const after = await until(
        'the statistics panel to count one more file',
        T.update,
        async () => {
          await refreshStatsPanel(frame);
          const p = await readStatsPanel(frame);
          return Number(p['Files']) === Number(before['Files']) + 1 ? p : undefined;
        },
        1500,
      );
      return `Files ${before['Files']} → ${after['Files']}, Tokens ${before['Tokens']} → ${after['Tokens']}`;
    },
    ['editing a file updates the statistics (panel and status bar)'],
  );

  clearTimeout(watchdog);
  await Promise.race([context.close(), sleep(10000)]);
  consoleLog.end();
  fs.rmSync(profile, { recursive: true, force: true });
}

main().then(
  () => finish(),
  async (err) => {
    log(`FAIL the script stopped: ${err && err.stack ? err.stack : err}`);
    await diagnose('script-error').catch(() => {});
    if (context) await Promise.race([context.close(), sleep(10000)]).catch(() => {});
    finish(1);
  },
);
