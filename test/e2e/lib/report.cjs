/*
 * The tally: each check counted, the final "N passed, N failed" line and exit status, what a failure leaves behind
 * (its reason, the status bar, notifications, RepoKV's log, the workbench console, a screenshot), and the
 * screenshots of the checks.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { LOGS, SHOTS } = require('./config.cjs');
const { log } = require('./time.cjs');
const { browserErrors, getPage, statusItem } = require('./workbench.cjs');

const results = [];

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

/** Counts a failure that is not a check of its own (the watchdog). */
function recordFailure(name) {
  results.push({ name, ok: false });
}

function tally() {
  const passed = results.filter((r) => r.ok).length;
  return { passed, failed: results.length - passed };
}

/** Prints the tally line and exits: 1 when anything failed. */
function finish(extraFailures = 0) {
  const { passed, failed } = tally();
  console.log(`${passed} passed, ${failed + extraFailures} failed`);
  process.exit(failed + extraFailures > 0 ? 1 : 0);
}

/** On a failure: a screenshot, the status bar, visible notifications and the tail of RepoKV's log. */
async function diagnose(name) {
  const page = getPage();
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

/** Saves a screenshot of the workbench as SHOTS/<name>.png. */
async function shot(name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await getPage().screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

module.exports = { check, recordFailure, finish, diagnose, shot };
