/**
 * Builds the test sidecar (child-entry.ts) with esbuild into a temporary directory, once per test file, and
 * connects to a spawned copy over its real stdio: what runs in the child is real vscode-jsonrpc on real pipes.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSync } from 'esbuild';
import {
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { LogNotification, type InitializeParams, type LogParams } from '../../src/sidecar/protocol';

let bundle: string | undefined;

export function buildTestSidecar(): string {
  if (bundle) return bundle;
  const outfile = path.join(mkdtempSync(path.join(os.tmpdir(), 'repokv-sidecar-test-')), 'sidecar.js');
  buildSync({
    entryPoints: [path.join(__dirname, 'child-entry.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'silent',
  });
  bundle = outfile;
  return outfile;
}

export interface TestSidecar {
  readonly child: ChildProcessWithoutNullStreams;
  readonly connection: MessageConnection;
  readonly logs: LogParams[];
  /** What the client's vscode-jsonrpc logged as errors (e.g. responses without an id). */
  readonly clientErrors: string[];
  readonly stderr: string[];
  exited: Promise<number | null>;
}

export function spawnTestSidecar(): TestSidecar {
  const child = spawn(process.execPath, [buildTestSidecar()], { stdio: 'pipe' });
  const clientErrors: string[] = [];
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const connection = createMessageConnection(
    new StreamMessageReader(child.stdout),
    new StreamMessageWriter(child.stdin),
    {
      error: (m) => clientErrors.push(m),
      warn: () => undefined,
      info: () => undefined,
      log: () => undefined,
    },
  );
  const logs: LogParams[] = [];
  connection.onNotification(LogNotification, (p) => void logs.push(p));
  connection.listen();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, connection, logs, clientErrors, stderr, exited };
}

export function initializeParams(modelPath = ''): InitializeParams {
  return {
    folders: ['/repo'],
    settings: {
      modelPath,
      executionProvider: 'cpu',
      cache: { kvBits: 2, keepRatio: 0.5, sinkTokens: 4, eviction: 'defensive', maxMemoryMB: 256 },
      cacheDir: path.join(os.tmpdir(), 'repokv-sidecar-test-cache'),
      exclude: [{ '**/dist': true }],
    },
  };
}

/** Resolves when `predicate` holds, polling; rejects after `ms`. */
export async function waitFor(predicate: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
