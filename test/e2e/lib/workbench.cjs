/*
 * The VS Code workbench in Chromium: launching and closing the browser, and using the workbench like a person
 * would (command palette, Explorer, editor text and ghost text, notifications, RepoKV's status bar item).
 * Selectors follow the shared E2E notes (VS Code 1.139).
 */
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { CHROMIUM, HEADED, LOGS, T } = require('./config.cjs');
const { elapsed, sleep } = require('./time.cjs');

let context;
let page; // set once the browser is up
let consoleLog;
let profile;
/** Errors the workbench logged (an extension's webview that throws shows up here), harmless ones left out. */
const browserErrors = [];
const HARMLESS = /vsda|status of 404|sandbox|open-vsx|service worker/i;

const clean = (s) => (s || '').replace(/\u00a0/g, ' ');

/** Starts Chromium with a fresh profile; the workbench console goes to LOGS/browser-console.log. */
async function launch() {
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'repokv-e2e-chromium-'));
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
  consoleLog = fs.createWriteStream(path.join(LOGS, 'browser-console.log'));
  page.on('console', (m) => {
    consoleLog.write(`[${elapsed()}] ${m.type()}: ${m.text()}\n`);
    if (m.type() === 'error' && !HARMLESS.test(m.text())) browserErrors.push(m.text().slice(0, 300));
  });
  page.on('pageerror', (e) => consoleLog.write(`[${elapsed()}] pageerror: ${e.message}\n`));
  return page;
}

/** Closes the browser, giving up on it after `ms`; resolves at once when it was never started. */
function closeBrowser(ms) {
  return Promise.race([context ? context.close() : Promise.resolve(), sleep(ms)]);
}

/** The end of a run that went through: the browser closed, its console log ended, its profile removed. */
async function shutdown() {
  await closeBrowser(10000);
  consoleLog.end();
  fs.rmSync(profile, { recursive: true, force: true });
}

const getPage = () => page;

function statusItem() {
  // The item made in activate() (status-bar.ts, id `repokv.status`); VS Code prefixes the extension id.
  return page.locator('.statusbar-item[id*="repokv.status"]').first();
}

async function statusText() {
  return clean(await statusItem().innerText({ timeout: 2000 })).trim();
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

/**
 * The ghost text shown: `first` on the cursor's line (`.ghost-text-decoration` spans, one per syntax token), `more`
 * for the lines below it (`.ghost-text` spans in the `.suggest-preview-text` view zone, grouped by `.view-line`).
 */
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

/** The ghost text when any is shown, else undefined (for `until`). */
async function shownGhostText() {
  const g = await ghostText();
  return g.first.trim() || g.more.some((l) => l.trim()) ? g : undefined;
}

module.exports = {
  browserErrors,
  clean,
  launch,
  closeBrowser,
  shutdown,
  getPage,
  statusItem,
  statusText,
  runCommand,
  toast,
  openFile,
  editorText,
  ghostText,
  shownGhostText,
};
