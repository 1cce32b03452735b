/*
 * The script's settings: its command-line arguments (given by run.sh), the environment, and the bounded waits.
 *
 *   node e2e.cjs --base http://127.0.0.1:PORT --workspace DIR --screenshots DIR --logs DIR
 */
'use strict';
const os = require('node:os');
const path = require('node:path');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const BASE = args.base;
const WS = args.workspace;
const SHOTS = args.screenshots || path.join(__dirname, '..', 'screenshots');
const LOGS = args.logs || os.tmpdir();
if (!BASE || !WS) {
  console.error('usage: e2e.cjs --base URL --workspace DIR [--screenshots DIR] [--logs DIR]');
  process.exit(2);
}

/** Bounded waits, in seconds. */
const T = {
  workbench: 90,
  activation: 90, // onStartupFinished: about 12 s after navigation on 2 cores
  indexed: 240, // first start: graph build + prefill of the small repository with coder-15m
  ghost: 45,
  palette: 15,
  notification: 30,
  webview: 30,
  chat: 180,
  update: 120,
  total: 840, // watchdog for the whole script (run.sh's own timeout is 900 s)
};

/** A file of the workspace, by its path relative to the workspace root. */
const wsFile = (rel) => path.join(WS, rel);

module.exports = {
  BASE,
  WS,
  SHOTS,
  LOGS,
  T,
  wsFile,
  EXTENSION_ID: 'repokv.repokv',
  CHROMIUM: process.env.CHROMIUM || '/usr/bin/chromium',
  HEADED: process.env.REPOKV_E2E_HEADED === '1',
};
