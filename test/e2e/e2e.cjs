#!/usr/bin/env node
/*
 * RepoKV end to end, in a real VS Code: code-server (started by run.sh, the packaged VSIX installed) loaded in
 * Debian's Chromium driven by playwright-core. Each check is counted; the last line printed is the tally,
 * "N passed, N failed", and the exit status is 1 when anything failed.
 *
 *   node e2e.cjs --base http://127.0.0.1:PORT --workspace DIR --screenshots DIR --logs DIR
 *
 * The workspace is test/e2e/workspace copied by run.sh. This file is the scenario, the ten checks in order; the
 * helpers are in lib/: config.cjs (arguments, bounded waits), time.cjs (log, until), workbench.cjs (the browser,
 * palette, Explorer, editor, status bar), webviews.cjs (the chat view and the statistics panel), stats.cjs (the
 * statistics as numbers) and report.cjs (the tally, failure diagnostics, screenshots).
 */
'use strict';
const fs = require('node:fs');
const { BASE, WS, T, wsFile } = require('./lib/config.cjs');
const { log, Fatal, until } = require('./lib/time.cjs');
const wb = require('./lib/workbench.cjs');
const { clean, statusItem, statusText, runCommand, toast, openFile, editorText, shownGhostText } = wb;
const {
  webviewFrame,
  refreshStatsPanel,
  readStatsPanel,
  recordChatAnswers,
  chatAnswerStates,
} = require('./lib/webviews.cjs');
const { parseCount, parseSummary, fp16BytesPerToken } = require('./lib/stats.cjs');
const { check, recordFailure, finish, diagnose, shot } = require('./lib/report.cjs');

async function main() {
  const watchdog = setTimeout(() => {
    log(`FAIL watchdog: the script ran longer than ${T.total} s`);
    recordFailure('watchdog');
    wb.closeBrowser(5000).finally(() => finish());
  }, T.total * 1000);

  const page = await wb.launch();
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
      let ghost = await until('ghost text', 20, shownGhostText).catch(() => undefined);
      // A completion may come only on an explicit request: editor.action.inlineSuggest.trigger.
      for (let attempt = 0; !ghost && attempt < 3; attempt++) {
        await page.keyboard.press('Alt+Backslash');
        ghost = await until('ghost text after Alt+\\', T.ghost / 3, shownGhostText).catch(() => undefined);
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
      await recordChatAnswers(frame);
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
          const s = await chatAnswerStates(frame);
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
  await wb.shutdown();
}

main().then(
  () => finish(),
  async (err) => {
    log(`FAIL the script stopped: ${err && err.stack ? err.stack : err}`);
    await diagnose('script-error').catch(() => {});
    await wb.closeBrowser(10000).catch(() => {});
    finish(1);
  },
);
